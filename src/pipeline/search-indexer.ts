/**
 * Search indexing, off the send path: what a message's body makes searchable (its folded words,
 * domain/search.ts) is written after the commit by a consumer of the room's stream, which moves
 * the room's `search` cursor in the same transaction. Two ways in:
 *
 * - with an event log (EVENT_LOG=jetstream), the `search` consumer group of the log, shared by
 *   every process of the deployment;
 * - without one, a RoomTail in each process (the rooms it committed to, and a sweep).
 *
 * Either way at least once and in any order: a message's text is only replaced by a later
 * event's (`search_seq`), and never written on a deleted message, so a repeat changes nothing.
 */
import { searchText } from '../domain/search.js';
import type { SearchIndexEntry, StreamEventRecord } from '../domain/types.js';
import type { EventLog, LogEntry, Store } from '../ports.js';
import { decodeRecord } from './records.js';

export const SEARCH_GROUP = 'search';

/** What the events change in the index: a text per message and event. */
export function searchEntries(events: StreamEventRecord[]): SearchIndexEntry[] {
  const entries: SearchIndexEntry[] = [];
  for (const e of events) {
    if ((e.kind !== 'message' && e.kind !== 'edit') || e.message === null) continue;
    entries.push({ messageSeq: e.message.seq, eventSeq: e.seq, text: e.message.deleted ? '' : searchText(e.message.body) });
  }
  return entries;
}

export interface IndexObserver {
  /** Events indexed, with the seconds from each one's commit to now. */
  indexed(delays: number[]): void;
  /** Log records this version does not read. */
  skipped(count: number): void;
}

/** Indexes one room's events (contiguous or not) and moves its cursor to the last. */
export async function indexRoom(store: Store, roomId: string, events: StreamEventRecord[], observer?: IndexObserver): Promise<void> {
  if (events.length === 0) return;
  const through = Math.max(...events.map((e) => e.seq));
  await store.applySearchIndex(roomId, searchEntries(events), through);
  const now = Date.now();
  observer?.indexed(events.map((e) => Math.max(0, (now - e.createdAt) / 1000)));
}

/** The `search` group of the event log: each batch indexed room by room. */
export function consumeForSearch(log: EventLog, store: Store, options: { batch: number; observer?: IndexObserver }): () => Promise<void> {
  return log.consume(SEARCH_GROUP, { families: ['stream'], batch: options.batch }, async (batch: LogEntry[]) => {
    const byRoom = new Map<string, StreamEventRecord[]>();
    let skipped = 0;
    for (const entry of batch) {
      const record = decodeRecord(entry);
      if (record?.type !== 'stream') {
        skipped += 1;
        continue;
      }
      const events = byRoom.get(record.event.roomId) ?? [];
      events.push(record.event);
      byRoom.set(record.event.roomId, events);
    }
    if (skipped > 0) options.observer?.skipped(skipped);
    await Promise.all([...byRoom].map(([roomId, events]) => indexRoom(store, roomId, events, options.observer)));
  });
}
