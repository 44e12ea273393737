/**
 * Ports: the interfaces the domain speaks to. Each has adapters in src/adapters/ and one
 * contract suite in test/contracts/ that every adapter passes.
 */
import type { NameConflict } from './domain/name-conflicts.js';
import type {
  EventKind,
  MemberRecord,
  MembershipRecord,
  MessageRecord,
  RoomRecord,
  RoomWithReadState,
  SearchHitRecord,
  SessionRecord,
  StreamEventRecord,
  UserRecord,
  Visibility,
} from './domain/types.js';

/** One change to append to a room stream. Applied in a group-committed batch. */
export type AppendRequest =
  | { kind: 'message'; roomId: string; userId: string; id: string; body: string; clientMsgId: string | null; at: number }
  | { kind: 'edit'; roomId: string; userId: string; target: number; body: string; at: number }
  /** By the author, or by the room's owner (the rules of src/domain/stream-rules.ts decide). */
  | { kind: 'delete'; roomId: string; userId: string; target: number; at: number }
  /** `addedBy`: the member adding `userId` (who must still be one when it commits), or null for joining oneself. */
  | { kind: 'member_joined'; roomId: string; userId: string; role: 'owner' | 'member'; addedBy: string | null; at: number }
  | { kind: 'member_left'; roomId: string; userId: string; at: number };

/**
 * What became of one AppendRequest.
 * - `appended`: a new event was committed with the seq in `event`.
 * - `duplicate`: a message with the same (room, author, clientMsgId) already exists; nothing
 *   was written and `message` is the first one.
 * - `noop`: nothing to do (joining a room one is already in, leaving one is not in).
 * - `rejected`: the request no longer applies (`not_found`: no such message or it was
 *   deleted; `forbidden`: not the author). Nothing was written.
 */
export type AppendOutcome =
  | { status: 'appended'; event: StreamEventRecord }
  | { status: 'duplicate'; message: MessageRecord }
  | { status: 'noop' }
  | { status: 'rejected'; code: 'not_found' | 'forbidden' };

export interface HistoryQuery {
  roomId: string;
  /** Exclusive bounds on seq; with `after` results are oldest first, otherwise newest first. */
  before?: number;
  after?: number;
  limit: number;
}

/**
 * The durable store: accounts, sessions, rooms, membership and room streams.
 *
 * Guarantees: every method is atomic. `append` commits its whole batch in one transaction;
 * within a room, seqs are assigned 1, 2, 3, … without gaps in commit order, also when several
 * processes append to the same room at once (the room row is locked for the transaction).
 * Errors from the database reject the promise; nothing is partially written. An outage of the
 * database (down, restarting, overloaded, a statement timeout, a serialization failure) rejects
 * with `unavailable`, so callers answer 503 and clients retry; any other error is a bug.
 */
export interface Store {
  /** Brings the schema to the latest version. Safe to call concurrently and repeatedly. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Cheap round trip, for readiness checks. */
  ping(): Promise<void>;

  /**
   * Creates the account unless its names clash with another's (`findNameConflict`): then it
   * rejects with AppError `conflict` (nameConflictError), writing nothing. The check and the
   * insert are atomic against concurrent createUser calls in any process. `displayNameFolded`
   * is the display name's folded form (foldName), stored to find clashes with later usernames;
   * without it, the lower-cased display name is stored.
   */
  createUser(user: UserRecord, names?: { displayNameFolded: string }): Promise<void>;
  /**
   * How `username` and a folded display name clash with existing accounts, or null: the
   * username is taken, or another user's folded display name is that username, or the folded
   * display name is another user's username. A read only: createUser decides.
   */
  findNameConflict(username: string, displayNameFolded: string): Promise<NameConflict | null>;
  findUserById(id: string): Promise<UserRecord | undefined>;
  /** `username` is compared lower-cased. */
  findUserByUsername(username: string): Promise<UserRecord | undefined>;

  createSession(session: SessionRecord): Promise<void>;
  findSession(tokenHash: string): Promise<SessionRecord | undefined>;
  /** Returns true when a session was deleted. */
  deleteSession(tokenHash: string): Promise<boolean>;
  deleteExpiredSessions(now: number): Promise<number>;

  /**
   * Creates a room with `ownerId` as owner and first member: the stream starts with the
   * owner's member_joined at seq 1. Returns the room and that event.
   */
  createRoom(room: Omit<RoomRecord, 'lastSeq' | 'dmKey'>, ownerId: string): Promise<{ room: RoomRecord; event: StreamEventRecord }>;
  /**
   * Returns the DM room of the two users, creating it on first use (both members, two
   * member_joined events). `created` tells which happened. Safe under concurrent calls.
   */
  getOrCreateDm(room: Omit<RoomRecord, 'lastSeq' | 'dmKey' | 'visibility'>, userA: string, userB: string): Promise<{ room: RoomRecord; created: boolean; events: StreamEventRecord[] }>;
  findRoom(id: string): Promise<RoomRecord | undefined>;
  /**
   * Rooms `userId` is a member of, with read markers and unread counts (messages by others, not
   * deleted, after the marker). Bounded work per room: at most 2 × (`unreadCap` + 1) messages
   * after the marker are read. More than `unreadCap` unread among them, or more messages after
   * them: the room is `unreadCapped`, and `unread` (at most `unreadCap`) is a lower bound.
   */
  listMemberRooms(userId: string, unreadCap: number): Promise<RoomWithReadState[]>;
  /** Public rooms whose name contains `q` (case-insensitive), by name. */
  listPublicRooms(q: string | undefined, limit: number): Promise<RoomRecord[]>;

  findMember(roomId: string, userId: string): Promise<MemberRecord | undefined>;
  /**
   * The user's role in the room (null when not a member) and the room's last seq, read together:
   * the answer holds as of that seq, so a leave after it has a higher seq.
   */
  membership(roomId: string, userId: string): Promise<MembershipRecord>;
  listMembers(roomId: string): Promise<Array<{ member: MemberRecord; user: UserRecord }>>;
  /** Ids of the rooms `userId` is a member of. */
  listMemberRoomIds(userId: string): Promise<string[]>;
  /** The user ids of the room's members, and the room's last seq, read together (the list holds as of it; 0 when no such room). */
  listMemberIds(roomId: string): Promise<{ ids: string[]; asOfSeq: number }>;
  /** Moves the read marker forward only (never back, never past lastSeq). Returns the marker now. */
  advanceReadMarker(roomId: string, userId: string, seq: number): Promise<number>;

  /** Appends the requests in one transaction, in order; one outcome per request, same order. */
  append(requests: AppendRequest[]): Promise<AppendOutcome[]>;
  /** Events with seq > `since`, oldest first, at most `limit`. */
  readEvents(roomId: string, since: number, limit: number): Promise<StreamEventRecord[]>;
  readHistory(query: HistoryQuery): Promise<{ messages: MessageRecord[]; hasMore: boolean }>;
  findMessage(roomId: string, seq: number): Promise<MessageRecord | undefined>;

  /**
   * Full-text search in the bodies of live (not deleted) messages of the rooms `query.userId`
   * is a member of, and no others. Each term must match as a word prefix. Newest first.
   *
   * Bounded work: the matches are walked newest first, in every room (or only `roomId`'s), and
   * each one examined counts against `maxCandidates`, whether it is a hit or not. When the walk
   * stops at that cap before `limit` hits were found and more matches remain, the page holds
   * the hits found so far and `truncated` is true. Past `deadlineAt` the search is stopped
   * inside the database and rejects with AppError `unavailable`; nothing is returned then.
   */
  search(query: SearchQuery): Promise<SearchPage>;
}

export interface SearchQuery {
  userId: string;
  /** Words already folded (see domain/search.ts); none is no hit. */
  terms: string[];
  /** Only this room's messages (still only when `userId` is a member of it). */
  roomId?: string | undefined;
  limit: number;
  /** Most matches examined, hits or not, before the search stops with `truncated`. */
  maxCandidates: number;
  /** Epoch milliseconds: past it the search is stopped and rejects with `unavailable`. */
  deadlineAt: number;
}

export interface SearchPage {
  hits: SearchHitRecord[];
  /** The walk stopped at `maxCandidates` with matches left unexamined: more hits may exist. */
  truncated: boolean;
}

/**
 * Where a bus message goes: a room's subscribers, every connection of one user, one node (its
 * liveness probe), or every node (`ctl:`, control messages such as cache invalidation).
 */
export type Channel = `room:${string}` | `user:${string}` | `node:${string}` | `ctl:${string}`;

/**
 * Carries serialized events between the processes of a deployment.
 *
 * Guarantees: at-most-once, per-channel FIFO from one publisher; no durability. Anything that
 * must not be lost is in the Store first; receivers repair gaps from it (ordering buffer), and
 * resync every room when the bus tells them it may have dropped messages (`onReset`).
 */
export interface Bus {
  /** Best effort: rejects with `unavailable` while the bus server is unreachable. */
  publish(channel: Channel, payload: string): Promise<void>;
  /** Starts delivering `channel` to `handler`. Resolves once delivery is established; returns the function that stops it. */
  subscribe(channel: Channel, handler: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * `listener` runs whenever messages may have been lost: after a reconnection, or after
   * `resubscribe`. Subscriptions are in place again when it runs.
   */
  onReset(listener: () => void): void;
  /** Tears down and re-establishes every subscription (a probe found delivery had stopped), then resets. */
  resubscribe(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A shared key-value cache with expiry. Values are strings (callers serialize). A cache is never
 * the source of truth: while its server is down every call rejects with `unavailable`, and
 * readers treat a failed `get` or `set` as a miss (the store answers). A failed `delete` fails
 * its caller: an invalidation that was not made must not be reported as done.
 */
export interface Cache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(keys: string[]): Promise<void>;
}

/**
 * Token-bucket rate limiting. An adapter whose shared counters are unreachable degrades to
 * counting in the process (the limit then holds per process) rather than refusing traffic.
 */
export interface RateLimiter {
  /** Takes one token for `key`. When none is left, returns the milliseconds until one is. */
  consume(key: string): Promise<{ allowed: true } | { allowed: false; retryAfterMs: number }>;
}

/**
 * Who is online. A user is online while they hold at least one connection.
 * `connect` returns true when the user just came online; `disconnect` true when they just went
 * offline. While the presence store is down, calls reject with `unavailable`; an adapter shared
 * by nodes keeps this node's connections and restores them once the store is back.
 */
/**
 * Who is online: a user holding a connection on any node, or whose last connection closed less
 * than the adapter's offline grace ago (a user who reconnects within it never went offline).
 */
export interface Presence {
  /** Records a connection; true when the user came online (they had none, and no grace running). */
  connect(userId: string, connectionId: string): Promise<boolean>;
  /**
   * Forgets a connection: `offline` when it was the user's last and they are offline now,
   * `lingering` when it was the last and they stay online for the grace (then ask `settle`),
   * `unchanged` otherwise.
   */
  disconnect(userId: string, connectionId: string): Promise<PresenceDrop>;
  /** After a user's grace ran out: true, to one caller only, when they are offline now. */
  settle(userId: string): Promise<boolean>;
  online(userIds: string[]): Promise<Set<string>>;
}

export type PresenceDrop = 'unchanged' | 'lingering' | 'offline';

/** Visibility is re-exported so transports need only this module and types.ts. */
export type { Visibility, EventKind };
