/**
 * The relay: every committed stream event to the event log, room by room from the room's `log`
 * cursor (a RoomTail). The cursor moves after the log stored the events; a run repeated after a
 * crash appends them again and the log stores each id once (within its duplicate window).
 * While the log is down the runs fail, the rooms stay behind, and the sweep brings them.
 */
import type { StreamEventRecord } from '../domain/types.js';
import type { EventLog, Store } from '../ports.js';
import { streamRecord } from './records.js';

export const RELAY_CURSOR = 'log';

export function relayTo(log: EventLog, store: Store, onRelayed?: (stored: number) => void): (roomId: string, events: StreamEventRecord[]) => Promise<void> {
  return async (roomId, events) => {
    const { stored } = await log.append(events.map(streamRecord));
    await store.advanceStreamCursor(roomId, RELAY_CURSOR, (events.at(-1) as StreamEventRecord).seq);
    // Only what the log did not hold yet: another process's run may have appended the same events.
    onRelayed?.(stored);
  };
}
