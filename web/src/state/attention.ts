/**
 * What draws me back to the page: the unread count in the tab title, desktop notifications
 * (asked for only after I have sent a message, never on first load, and never again once I
 * said no), and the sentence the live region reads out for a new message.
 */
import { signal } from '@preact/signals';
import type { Message } from '../../../client/index.js';

const DECLINED = 'parley:notifications-declined';

/** The tab's title: `(3) # garden · Parley`, the count first so it shows in a narrow tab. */
export function pageTitle(unread: { count: number; capped: boolean }, roomLabel: string | null): string {
  const count = unread.count > 0 || unread.capped ? `(${unread.count}${unread.capped ? '+' : ''}) ` : '';
  return `${count}${roomLabel === null ? '' : `${roomLabel} · `}Parley`;
}

/** The sentence the live region announces for a message of someone else in the open room. */
export function announcement(message: Message): string {
  const text = message.body === '' ? `${message.attachments?.length ?? 0} file(s)` : message.body;
  return `${message.author.displayName}: ${text.length > 140 ? `${text.slice(0, 140)}…` : text}`;
}

const supported = typeof Notification === 'function';

function declined(): boolean {
  try {
    return localStorage.getItem(DECLINED) === '1';
  } catch {
    return false;
  }
}

/** Whether to offer desktop notifications: shown after my first send of the session. */
export const offerNotifications = signal(false);

/** I sent a message: a sensible moment to offer notifications, if they are still undecided. */
export function afterFirstSend(): void {
  if (supported && Notification.permission === 'default' && !declined()) offerNotifications.value = true;
}

/** Asks the browser (from the click on "Turn on"), then stops offering. */
export async function enableNotifications(): Promise<NotificationPermission> {
  offerNotifications.value = false;
  if (!supported) return 'denied';
  return Notification.requestPermission();
}

export function declineNotifications(): void {
  offerNotifications.value = false;
  try {
    localStorage.setItem(DECLINED, '1');
  } catch {
    // Asked again next session.
  }
}

/** Shows a desktop notification when allowed; a click brings the page and the room forward. */
export function notify(title: string, body: string, tag: string, onClick: () => void): void {
  if (!supported || Notification.permission !== 'granted') return;
  const notification = new Notification(title, { body: body.length > 200 ? `${body.slice(0, 200)}…` : body, tag });
  notification.onclick = () => {
    window.focus();
    onClick();
    notification.close();
  };
}
