/** The events a ParleyClient emits, and the shapes they carry. */
import type {
  NotificationEvent,
  NotificationsReadEvent,
  PresenceBatchEvent,
  PresenceEvent,
  ReadEvent,
  RoomAddedEvent,
  RoomRemovedEvent,
  StreamEvent,
  TypingEvent,
  UserUpdatedEvent,
} from '../src/protocol/wire.js';
import type { ParleyError } from './errors.js';

/**
 * - `connecting`: the first connection attempt after connect().
 * - `open`: connected; subscriptions are being resumed.
 * - `reconnecting`: the connection closed or never opened; a new attempt follows after `retryInMs`.
 * - `closed`: no connection and none coming: close() was called, the server closed with 1008
 *   (policy: origin refused, session revoked), or the session turned out to be invalid.
 */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateChange {
  state: ConnectionState;
  /** The WebSocket close code that caused a `reconnecting` or `closed` state. */
  closeCode?: number;
  reason?: string;
  /** With `reconnecting`: the delay before the next attempt, in ms. */
  retryInMs?: number;
  /** With `closed` other than by close(): why the client stopped. */
  error?: ParleyError;
}

/**
 * Events between `since` and `lastSeq` of a room could not be replayed over the socket: page them
 * through REST history (`rest.history(roomId, { after: since })`). The stream continues live
 * after `lastSeq`.
 */
export interface RecoveryNeeded {
  roomId: string;
  /** The last seq the client had delivered, if it had one. */
  since: number | undefined;
  lastSeq: number;
}

/** A room's (re)subscription was refused for good (for example the user left it while offline). */
export interface SubscriptionLost {
  roomId: string;
  error: ParleyError;
}

/** What a subscribe resolves with. */
export interface SubscribeResult {
  /** Where the live stream continues (events up to it were delivered or are covered by recovery). */
  lastSeq: number;
  /** False when a `recovery_needed` event was emitted for this subscribe. */
  recovered: boolean;
  /**
   * Ids of the room's members online now. With `presence: 'batch'` the server leaves the list out
   * of large rooms (`onlineComplete` false): page `rest.members(roomId)` if you need it.
   */
  online: string[];
  /** How many members are online now. */
  onlineCount: number;
  /** Whether `online` lists every online member (false: the server sent the count only). */
  onlineComplete: boolean;
}

export interface ParleyEvents {
  /** One room stream event, in seq order, without duplicates or gaps. */
  event: StreamEvent;
  typing: TypingEvent;
  /** A member came online or went offline (also emitted for each change of a `presence_batch`). */
  presence: PresenceEvent;
  /** The presence changes of a room over one short window (with `presence: 'batch'`), and the online count. */
  presence_batch: PresenceBatchEvent;
  /** The read marker moved on another connection of the same user. */
  read: ReadEvent;
  room_added: RoomAddedEvent;
  room_removed: RoomRemovedEvent;
  /**
   * A member of a subscribed room changed their profile (display name, status, avatar): update
   * member lists and names shown. Live only, never replayed: after a `recovery_needed` or a
   * reconnection, re-read the members (`rest.memberPage`) rather than wait for these.
   */
  user_updated: UserUpdatedEvent;
  /** A new notification of mine (a mention, an @room, a followed thread, a room at level `all`), on every connection. */
  notification: NotificationEvent;
  /** My notification read marker moved (on this or another connection). */
  notifications_read: NotificationsReadEvent;
  state: StateChange;
  recovery_needed: RecoveryNeeded;
  subscription_lost: SubscriptionLost;
}
