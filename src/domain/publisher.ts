/**
 * Turns committed stream events and other notices into bus messages. Each event is serialized
 * here, once; every node and every socket downstream forwards the same string.
 *
 * Channels: `room:<id>` carries a room's stream events, typing and presence; `user:<id>` carries
 * what concerns one user's connections (read markers, rooms added or removed, session
 * revocation). Frames whose type starts with `_` are control frames for the gateway and never
 * reach a client.
 */
import type { Bus, Channel } from '../ports.js';
import type { ServerEvent } from '../protocol/wire.js';
import type { RoomRecord, StreamEventRecord } from './types.js';
import { eventView, roomView } from './views.js';

export type ControlFrame = { type: '_revoke'; tokenHash: string };

/** Every node listens here for membership changes made by the others. */
export const MEMBERSHIP_CHANNEL: Channel = 'ctl:members';
/** Every node listens here for keys of the shared cache another node invalidated. */
export const CACHE_CHANNEL: Channel = 'ctl:cache';

export class Publisher {
  readonly #bus: Bus;
  readonly #onError: (error: unknown) => void;

  constructor(bus: Bus, onError: (error: unknown) => void) {
    this.#bus = bus;
    this.#onError = onError;
  }

  /** Publishes committed events; callers pass them in commit order. */
  streamEvent(event: StreamEventRecord): void {
    this.#send(`room:${event.roomId}`, JSON.stringify(eventView(event)));
  }

  roomAdded(userId: string, room: RoomRecord): void {
    this.toUser(userId, { type: 'room_added', room: roomView(room) });
  }

  roomRemoved(userId: string, roomId: string): void {
    this.toUser(userId, { type: 'room_removed', roomId });
  }

  /** Tells every node that a membership changed, so their caches drop it. */
  membershipChanged(roomId: string, userId: string): void {
    this.#send(MEMBERSHIP_CHANNEL, JSON.stringify({ roomId, userId }));
  }

  /** Tells every node that these shared-cache keys were invalidated (their loads in flight are stale). */
  cacheInvalidated(keys: string[]): void {
    this.#send(CACHE_CHANNEL, JSON.stringify(keys));
  }

  toRoom(roomId: string, frame: ServerEvent): void {
    this.#send(`room:${roomId}`, JSON.stringify(frame));
  }

  toUser(userId: string, frame: ServerEvent | ControlFrame): void {
    this.#send(`user:${userId}`, JSON.stringify(frame));
  }

  #send(channel: Channel, payload: string): void {
    this.#bus.publish(channel, payload).catch(this.#onError);
  }
}
