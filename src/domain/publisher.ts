/**
 * Turns committed stream events and other notices into bus messages. Each event is serialized
 * here, once; every node and every socket downstream forwards the same string.
 *
 * Channels: `room:<id>` carries a room's stream events, typing and presence; `user:<id>` carries
 * what concerns one user's connections (read markers, rooms added or removed, session
 * revocation). Every message is encoded by src/protocol/bus-codec.ts.
 */
import type { Bus, Channel } from '../ports.js';
import { encodeCacheKeys, encodeMembership, encodePurge, encodeRoom, encodeUser } from '../protocol/bus-codec.js';
import type { JobEvent, NotificationEvent, NotificationsReadEvent, ReadEvent, RoomAddedEvent, TypingEvent, UserUpdatedEvent } from '../protocol/wire.js';
import type { RoomRecord, StreamEventRecord } from './types.js';
import { eventView, roomView } from './views.js';

/** Whom a stream event is about: the member it names (moderation), or its actor. */
export const subjectOf = (event: StreamEventRecord): string => event.member?.id ?? event.user.id;

/** Every node listens here for membership changes made by the others. */
export const MEMBERSHIP_CHANNEL: Channel = 'ctl:members';
/** Every node listens here for keys of the shared cache another node invalidated. */
export const CACHE_CHANNEL: Channel = 'ctl:cache';
/** Every node listens here for rooms whose old messages retention tombstoned. */
export const PURGE_CHANNEL: Channel = 'ctl:purge';

export class Publisher {
  readonly #bus: Bus;
  readonly #onError: (error: unknown) => void;

  constructor(bus: Bus, onError: (error: unknown) => void) {
    this.#bus = bus;
    this.#onError = onError;
  }

  /**
   * Publishes committed events; callers pass them in commit order. The header names the member
   * an event is about when it names one (a kick ends that member's subscriptions, not the
   * moderator's), its actor otherwise.
   */
  streamEvent(event: StreamEventRecord): void {
    const frame = JSON.stringify(eventView(event));
    this.#send(`room:${event.roomId}`, encodeRoom({ type: 'event', seq: event.seq, kind: event.kind, userId: subjectOf(event), target: event.target, frame }));
  }

  roomAdded(userId: string, room: RoomRecord): void {
    const frame: RoomAddedEvent = { type: 'room_added', room: roomView(room) };
    this.#send(`user:${userId}`, encodeUser({ type: 'frame', frame: JSON.stringify(frame), removedRoomId: null }));
  }

  roomRemoved(userId: string, roomId: string): void {
    this.#send(`user:${userId}`, encodeUser({ type: 'frame', frame: JSON.stringify({ type: 'room_removed', roomId }), removedRoomId: roomId }));
  }

  readMarker(userId: string, frame: ReadEvent): void {
    this.#send(`user:${userId}`, encodeUser({ type: 'frame', frame: JSON.stringify(frame), removedRoomId: null }));
  }

  /** Progress of one of the user's background jobs, to all of their connections. */
  jobEvent(userId: string, frame: JobEvent): void {
    this.#send(`user:${userId}`, encodeUser({ type: 'frame', frame: JSON.stringify(frame), removedRoomId: null }));
  }

  /** A new notification, or the moved notification read marker, to all of the user's connections on every node. */
  notification(userId: string, frame: NotificationEvent | NotificationsReadEvent): void {
    this.#send(`user:${userId}`, encodeUser({ type: 'frame', frame: JSON.stringify(frame), removedRoomId: null }));
  }

  /** Closes every connection of the session, on every node. */
  sessionRevoked(userId: string, tokenHash: string): void {
    this.#send(`user:${userId}`, encodeUser({ type: 'revoke', tokenHash }));
  }

  typing(roomId: string, frame: TypingEvent): void {
    this.#send(`room:${roomId}`, encodeRoom({ type: 'typing', userId: frame.user.id, frame: JSON.stringify(frame) }));
  }

  /** A member changed their profile: every subscriber of the room is told, on every node (not a stream event: not replayed). */
  userUpdated(roomId: string, userId: string, frame: UserUpdatedEvent): void {
    this.#send(`room:${roomId}`, encodeRoom({ type: 'user_updated', userId, frame: JSON.stringify(frame) }));
  }

  /** A member came online or went offline; each node tells its subscribers of the room (coalesced). */
  presence(roomId: string, userId: string, online: boolean): void {
    this.#send(`room:${roomId}`, encodeRoom({ type: 'presence', roomId, userId, online }));
  }

  /** Tells every node that a member joined or left at `seq`, so their caches follow. */
  membershipChanged(roomId: string, userId: string, joined: boolean, seq: number): void {
    this.#send(MEMBERSHIP_CHANNEL, encodeMembership({ roomId, userId, change: { joined, seq } }));
  }

  /** Tells every node that these shared-cache keys were invalidated (their loads in flight are stale). */
  cacheInvalidated(keys: string[]): void {
    this.#send(CACHE_CHANNEL, encodeCacheKeys(keys));
  }

  /** Tells every node that the room's messages up to `throughSeq` were tombstoned by retention. */
  purged(roomId: string, throughSeq: number): void {
    this.#send(PURGE_CHANNEL, encodePurge({ roomId, throughSeq }));
  }

  #send(channel: Channel, payload: string): void {
    this.#bus.publish(channel, payload).catch(this.#onError);
  }
}
