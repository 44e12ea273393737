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
 * The room's cursor moves only over events without a gap before them. A search that finds its
 * rooms behind catches them up from the store first (Search), within its deadline.
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

/**
 * Indexes one room's events and moves its cursor over them. Read from the store, they are every
 * event after `after`. From the log (`after` absent) only those that run on without a gap move
 * it: events taken out of order, or with one missing, leave the cursor where it is, and the
 * repair sweep or the next search of the room reads them from the store.
 */
export async function indexRoom(store: Store, roomId: string, events: StreamEventRecord[], observer?: IndexObserver, after?: number): Promise<void> {
  if (events.length === 0) return;
  const sorted = [...events].sort((a, b) => a.seq - b.seq);
  const from = after ?? (sorted[0] as StreamEventRecord).seq - 1;
  let through = from;
  for (const e of sorted) {
    if (after === undefined && e.seq > through + 1) break;
    through = Math.max(through, e.seq);
  }
  await store.applySearchIndex(roomId, searchEntries(sorted), from, through);
  const now = Date.now();
  observer?.indexed(sorted.flatMap((e) => (e.kind === 'message' ? [Math.max(0, (now - e.createdAt) / 1000)] : [])));
}

/** Indexes the room from its cursor, from the store, up to `maxEvents` events. */
export async function catchUpRoom(store: Store, roomId: string, maxEvents: number, observer?: IndexObserver): Promise<void> {
  let cursor = await store.streamCursor(roomId, 'search');
  for (let taken = 0; taken < maxEvents; ) {
    const events = await store.readEvents(roomId, cursor, Math.min(500, maxEvents - taken));
    if (events.length === 0) return;
    await indexRoom(store, roomId, events, observer, cursor);
    cursor = (events.at(-1) as StreamEventRecord).seq;
    taken += events.length;
  }
}

/** An observer that reports only the delays of the events in `first`. */
function observing(observer: IndexObserver | undefined, events: StreamEventRecord[], first: Set<StreamEventRecord>): IndexObserver | undefined {
  if (observer === undefined || events.every((e) => first.has(e))) return observer;
  const kept = events.filter((e) => first.has(e) && e.kind === 'message');
  const now = Date.now();
  return { indexed: () => observer.indexed(kept.map((e) => Math.max(0, (now - e.createdAt) / 1000))), skipped: (n) => observer.skipped(n) };
}

/** The `search` group of the event log: each batch indexed room by room. */
export function consumeForSearch(log: EventLog, store: Store, options: { batch: number; observer?: IndexObserver; onError(error: unknown, context: string): void }): () => Promise<void> {
  return log.consume(SEARCH_GROUP, { families: ['stream'], batch: options.batch }, async (batch: LogEntry[]) => {
    const byRoom = new Map<string, StreamEventRecord[]>();
    let skipped = 0;
    // The delay from commit to searchable is measured on first deliveries only.
    const first = new Set<StreamEventRecord>();
    for (const entry of batch) {
      const record = decodeRecord(entry);
      if (record?.type !== 'stream') {
        skipped += 1;
        continue;
      }
      if (entry.redelivered === 0) first.add(record.event);
      const events = byRoom.get(record.event.roomId) ?? [];
      events.push(record.event);
      byRoom.set(record.event.roomId, events);
    }
    if (skipped > 0) options.observer?.skipped(skipped);
    // Room by room, in a stable order (two processes never lock the same rows crosswise). An
    // outage fails the batch (it is handed again); any other failure is that room's alone: it is
    // reported and skipped, so one bad record never holds the group (the repair sweep and the
    // room's next search read its events from the store).
    for (const [roomId, events] of [...byRoom].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      try {
        await indexRoom(store, roomId, events, observing(options.observer, events, first));
      } catch (error) {
        if ((error as { code?: string }).code === 'unavailable') throw error;
        options.onError(error, `indexing room ${roomId} from the event log`);
      }
    }
  });
}
