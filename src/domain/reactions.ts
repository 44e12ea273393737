/**
 * Reactions as a reader sees them: messages read from the store (history, threads, search)
 * carry `reactions: [{emoji, count, me}]`, aggregated per emoji, `me` for that reader. Added
 * after the read, not stored with the message, so cached pages stay shared by every reader.
 */
import type { ReadConsistency, Store } from '../ports.js';
import type { MessageRecord } from './types.js';

/**
 * The messages with their reactions for `userId` (deleted ones never carry any). `room`: the
 * room state the page was read as of, so that reactions are read at least as fresh (with read
 * replicas, see ReadConsistency).
 */
export async function withReactions(store: Store, userId: string, messages: MessageRecord[], room: Omit<ReadConsistency, 'readerId'> = {}): Promise<MessageRecord[]> {
  const byRoom = new Map<string, number[]>();
  for (const m of messages) if (!m.deleted) byRoom.set(m.roomId, [...(byRoom.get(m.roomId) ?? []), m.seq]);
  if (byRoom.size === 0) return messages;
  const found = new Map<string, MessageRecord['reactions']>();
  await Promise.all(
    [...byRoom].map(async ([roomId, seqs]) => {
      for (const r of await store.reactionsOf(roomId, seqs, userId, { readerId: userId, ...room })) found.set(`${roomId}\u0000${r.seq}`, r.reactions);
    }),
  );
  return messages.map((m) => {
    const reactions = m.deleted ? undefined : found.get(`${m.roomId}\u0000${m.seq}`);
    return reactions === undefined || reactions.length === 0 ? m : { ...m, reactions };
  });
}
