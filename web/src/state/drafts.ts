/**
 * What I was writing in each room, kept when I switch rooms and across a reload (localStorage,
 * per user and room, so two accounts in one browser never see each other's drafts). Storage
 * refused (private mode, full) only loses the draft across reloads.
 */
const PREFIX = 'parley:draft:';

function key(userId: string, roomId: string): string {
  return `${PREFIX}${userId}:${roomId}`;
}

export function loadDraft(userId: string, roomId: string): string {
  try {
    return localStorage.getItem(key(userId, roomId)) ?? '';
  } catch {
    return '';
  }
}

export function saveDraft(userId: string, roomId: string, text: string): void {
  try {
    if (text.trim() === '') localStorage.removeItem(key(userId, roomId));
    else localStorage.setItem(key(userId, roomId), text);
  } catch {
    // The draft lives on in the composer until the page goes.
  }
}
