/**
 * A Store whose rooms live on several PostgreSQL databases (shards). Each room's stream and what
 * hangs on it (the room row and its seq, members and read markers, events, messages and their
 * search index, reactions, threads, moderation, the notifier's cursor and preferences) is on one
 * shard, in the same tables and transactions as on a single database: every guarantee of a
 * room's stream holds on its shard as it does on one server. Users, sessions, uploads,
 * notifications, webhooks, exports, jobs and the room directory stay on the primary.
 *
 * - Placement: a new room goes to the shard of highest rendezvous hash of its id among the
 *   shards configured, recorded in the primary's room_directory (one PK read per room and
 *   process, then cached). A room without a row is on the primary, as every room was before
 *   sharding. Adding a shard moves no room; shard-move.ts moves one.
 * - Joins: a shard keeps copies of the users its rooms' queries join (no password hash), written
 *   before a room write that brings a user in and rewritten when a profile changes.
 * - Attachments: the primary's upload row is claimed (attached, no message yet) before the shard
 *   commits the message, so the files sweep cannot doom it meanwhile; the shard gets a copy for
 *   its checks. A crash between the two leaves a claimed upload without a message, kept, never a
 *   message without its file.
 * - Across rooms (room lists, search, followed threads, public rooms, sweeps): every shard is
 *   asked, at once, and the answers merged; each shard does the bounded work one database does,
 *   so the cost is that times the number of shards (docs/operations.md).
 * - Moves: writes to a room being moved wait for the move (move-watch.ts); an answer saying the
 *   room is not there (it just left) makes the call ask the directory again and go where the
 *   room is now.
 */
import { createHash } from 'node:crypto';
import { AppError } from '../../errors.js';
import type { AdminRoomQuery, RoomWithReadState } from '../../domain/types.js';
import { type AppendOutcome, type AppendRequest, type HistoryQuery, type ModerationOutcome, type ModerationRequest, type NotificationPage, PartialAppendError, type SearchQuery, type Store, type ThreadCursor } from '../../ports.js';
import type { StoreWithJobs } from './job-store.js';
import { toAuthor } from './mappers.js';
import { MoveWatch } from './move-watch.js';
import type { NotificationRow, ShardSql } from './shard-sql.js';

export interface Shard {
  name: string;
  store: Store;
  sql: ShardSql;
}

export interface ShardingOptions {
  /** The primary: users, sessions, the directory, jobs; and the rooms created before sharding. */
  primary: { store: StoreWithJobs; sql: ShardSql };
  /** Where new rooms go. One may be the primary itself (the same store under another name). */
  shards: Shard[];
  /** How often the directory is polled for moves, ms. */
  movePollMs: number;
  /** Longest a write waits for a move, ms. */
  moveWaitMs: number;
  onError?: (error: unknown, context: string) => void;
}

export interface ShardedStore {
  store: StoreWithJobs;
  /** Every database by shard name ('primary' included). */
  shards: Map<string, Shard>;
  /** The shard a room is on now (read from the directory). */
  shardOf(roomId: string): Promise<string>;
}

/** The shard name of the primary, for rooms without a directory row. */
export const PRIMARY_SHARD = 'primary';

/** Of `names`, the one with the highest hash of (name, key): stable, and adding a name moves only the keys it wins. */
export function rendezvous(key: string, names: string[]): string {
  let best = names[0] as string;
  let bestScore = -1n;
  for (const name of names) {
    const score = createHash('sha256').update(name).update('\0').update(key).digest().readBigUInt64BE(0);
    if (score > bestScore) {
      best = name;
      bestScore = score;
    }
  }
  return best;
}

/** A bounded map: the oldest entry goes when it is full. */
class Bounded<V> {
  readonly #max: number;
  readonly #map = new Map<string, V>();
  constructor(max: number) {
    this.#max = max;
  }
  get(key: string): V | undefined {
    return this.#map.get(key);
  }
  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as string);
  }
  delete(key: string): void {
    this.#map.delete(key);
  }
}

type Method = (...args: unknown[]) => Promise<unknown>;

interface RoomSpec {
  roomId: (args: unknown[]) => string;
  write?: true;
  /**
   * A write no row lock of the room orders against a move (an upsert of a setting): after it,
   * the directory is asked whether the room left meanwhile, and it is made again where the
   * room is (it is idempotent). Rare calls only: it costs a read of the primary.
   */
  confirm?: true;
  /** The users the call may bring into the shard's joins. */
  users?: (args: unknown[]) => Array<string | null | undefined>;
  /** The answer says the room is not on this shard (it may have just left it). */
  absent?: (result: unknown) => boolean;
}

const first = (args: unknown[]): string => args[0] as string;

/** Lists each furthest behind first, merged by taking them in turns; at most `limit`. */
function inTurns(lists: string[][], limit: number): string[] {
  const merged: string[] = [];
  for (let i = 0; merged.length < limit && lists.some((l) => i < l.length); i += 1) {
    for (const list of lists) if (i < list.length && merged.length < limit && !merged.includes(list[i] as string)) merged.push(list[i] as string);
  }
  return merged;
}

/** Calls routed to the room's shard, by method. */
const ROOM: Record<string, RoomSpec> = {
  findRoom: { roomId: first, absent: (r) => r === undefined },
  findMember: { roomId: first },
  membership: { roomId: first, absent: (r) => (r as { asOfSeq: number }).asOfSeq === 0 },
  membersAmong: { roomId: first, absent: (r) => (r as { asOfSeq: number }).asOfSeq === 0 },
  listMembers: { roomId: first },
  listMemberIds: { roomId: first, absent: (r) => (r as { asOfSeq: number }).asOfSeq === 0 },
  listRestrictions: { roomId: first },
  mutesOf: { roomId: first },
  listAudit: { roomId: first },
  readEvents: { roomId: first },
  readHistory: { roomId: (args) => (args[0] as HistoryQuery).roomId },
  findMessage: { roomId: first },
  reactionsOf: { roomId: first },
  readThread: { roomId: first },
  threadFollowOf: { roomId: first },
  listThreadFollowers: { roomId: first },
  roomRetention: { roomId: first, absent: (r) => r === undefined },
  notificationCursor: { roomId: first },
  streamCursor: { roomId: first },
  listNotifyPrefs: { roomId: first },
  findNotifyPref: { roomId: first },
  advanceReadMarker: { roomId: first, write: true },
  setThreadFollow: { roomId: first, write: true, users: (args) => [args[2] as string], absent: (r) => r === false },
  markThreadRead: { roomId: first, write: true, absent: (r) => r === null },
  moderate: {
    roomId: (args) => (args[0] as ModerationRequest).roomId,
    write: true,
    users: ([request]) => {
      const { actorId, action } = request as ModerationRequest;
      return [actorId, 'memberId' in action ? action.memberId : null];
    },
    absent: (r) => (r as ModerationOutcome).status === 'refused' && (r as { code: string }).code === 'not_found',
  },
  setRoomRetention: { roomId: first, write: true, confirm: true },
  // Not confirmed: a cursor advance lost to a move only makes the notifier read again (its writes are idempotent).
  advanceNotificationCursor: { roomId: first, write: true },
  // Held during a move like every write, then made on the room's new shard (both are idempotent).
  // An index write lost to a move leaves the room's search cursor behind on its new shard: the
  // indexer's repair sweep and the next search of the room index it again.
  advanceStreamCursor: { roomId: first, write: true },
  applySearchIndex: { roomId: first, write: true },
  setNotifyPref: { roomId: first, write: true, confirm: true },
};

/**
 * Calls the primary answers alone: accounts, sessions, uploads, exports, webhooks, bots,
 * notifications' own tables, blocks, and the job store.
 */
const PRIMARY_ONLY = new Set([
  'createUser', 'findNameConflict', 'findUserById', 'findUserByUsername', 'searchUsers', 'serverRole', 'setServerRole', 'listServerRoles',
  'setUserDisabled', 'setPassword', 'revokeSessions', 'listUsers', 'recordServerAudit', 'listServerAudit', 'pruneServerAudit',
  'createSession', 'findSession', 'findSessionUser', 'deleteSession', 'deleteExpiredSessions',
  'createExport', 'findExport', 'findActiveExport', 'updateExport', 'listExpiredExports', 'deleteExport',
  'reserveUpload', 'findUpload', 'updateUpload', 'deleteUpload', 'doomUnattachedUploads', 'listDoomedUploads', 'markUploadsDeleted', 'forgetDeletedUploads',
  'createWebhook', 'findWebhook', 'listWebhooks', 'updateWebhook', 'markWebhookFailing', 'deleteWebhook', 'activeWebhookIds', 'advanceWebhookCursor',
  'recordWebhookDelivery', 'listWebhookDeliveries', 'pruneWebhookDeliveries',
  'createBot', 'listBots', 'replaceSessions',
  'createIncomingWebhook', 'findIncomingWebhook', 'findIncomingWebhookByToken', 'listIncomingWebhooks', 'deleteIncomingWebhook',
  'insertNotifications', 'notificationSettings', 'updateNotificationSettings', 'advanceNotificationsRead', 'markDigestSent', 'digestCandidates',
  'block', 'unblock', 'listBlocks', 'blockersOf', 'blockedEitherWay',
  // The job store (job-store.ts)
  'jobsEnqueue', 'jobsClaim', 'jobsRenew', 'jobsComplete', 'jobsFail', 'jobsRelease', 'jobsCounts', 'jobsDead', 'jobsRetryDead', 'jobsPurgeDead', 'jobsSweep',
  'jobsScheduleUpsert', 'jobsClaimDueSchedules', 'jobsClaimKey', 'jobsSetKeys',
]);

/** Calls answered here, by the shards together (fan-out and merge, placement, copies). */
const SPECIAL = [
  'migrate', 'close', 'ping', 'append', 'createRoom', 'getOrCreateDm', 'setAvatar', 'avatarOf', 'purgeMessagesBefore', 'updateProfile', 'deactivateBot', 'search',
  'listMemberRooms', 'listMemberRoomIds', 'listPublicRooms', 'listFollowedThreads', 'roomsBehindNotifier', 'roomsBehindCursor', 'listRetentionRooms', 'webhooksBehind',
  'listNotifications', 'countUnreadNotifications', 'listRooms', 'eraseUser',
];

/** Every Store method this module routes, by how (the sharding test checks none is missing). */
export const ROUTED_METHODS = { room: Object.keys(ROOM), primary: [...PRIMARY_ONLY], special: SPECIAL };

/** The columns a shard's copy of a user holds (ShardSql.upsertUsers writes them). */
const COPIED_USER_COLUMNS = ['username', 'display_name', 'display_name_folded', 'bot_owner_id', 'deactivated_at', 'avatar_id', 'status_text', 'status_expires_at'] as const;
const sameCopy = (a: Record<string, unknown>, b: Record<string, unknown>): boolean => COPIED_USER_COLUMNS.every((c) => (a[c] ?? null) === (b[c] ?? null));

/** The first of each key: a room copied to its new shard and not yet deleted from the old is listed once. */
function unique<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * An error saying the room is not on the shard: not_found (an advanceReadMarker of a room that
 * is not there), or a foreign key to a room row a move just deleted.
 */
const isNotFound = (error: unknown): boolean => (error instanceof AppError && error.code === 'not_found') || (error as { code?: unknown } | null)?.code === '23503';

const RETRIES = 3;
/** Tables kept on the primary that name rooms. */
const PRIMARY_TABLES = ['notifications', 'exports', 'webhooks', 'webhook_deliveries', 'incoming_webhooks', 'uploads'];
/** Most unread notification rows a count looks at. */
const UNREAD_ROWS = 2_000;
/** Most pages of notification rows one page of notifications reads (rows of rooms left are skipped). */
const NOTIFICATION_ROUNDS = 5;
/** Rooms whose heads a sweep reads at once. */
const SWEEP_PARALLEL = 8;
/** Most active webhooks one sweep of webhooksBehind looks at. */
const WEBHOOKS_SWEPT = 10_000;

export function shardRooms(options: ShardingOptions): ShardedStore {
  const { primary } = options;
  const primaryShard: Shard = { name: PRIMARY_SHARD, store: primary.store, sql: primary.sql };
  const shards = new Map<string, Shard>([[PRIMARY_SHARD, primaryShard]]);
  for (const shard of options.shards) shards.set(shard.name, shard);
  const placedOn = options.shards.map((s) => s.name);
  if (placedOn.length === 0) throw new Error('sharding needs at least one shard');
  /** Each database once (the primary may also be listed as a shard). */
  const databases = [...new Map([...shards.values()].map((s) => [s.store, s])).values()];
  const failed = (error: unknown, context: string) => options.onError?.(error, context);

  const placements = new Bounded<string>(200_000);
  /** Moves seen ended: a directory read that overlapped one is not cached (it may predate the move). */
  let moves = 0;
  const watch = new MoveWatch(primary.sql, {
    pollMs: options.movePollMs,
    waitMs: options.moveWaitMs,
    onMoved: (roomId) => {
      moves += 1;
      placements.delete(roomId);
    },
    onError: (error) => failed(error, 'polling room moves'),
  });

  const named = (name: string, roomId: string): Shard => {
    const shard = shards.get(name);
    if (shard === undefined) throw new Error(`room ${roomId} is on shard "${name}", which DATABASE_SHARD_URLS does not name`);
    return shard;
  };

  const shardOf = async (roomId: string, fresh = false): Promise<Shard> => {
    const known = fresh ? undefined : placements.get(roomId);
    if (known !== undefined) return named(known, roomId);
    const seen = moves;
    const entry = await primary.sql.directoryEntry(roomId);
    const name = entry?.shard ?? PRIMARY_SHARD;
    if (seen === moves && entry?.movingTo == null) placements.set(roomId, name);
    return named(name, roomId);
  };

  /** Whether the room left `shard` (or is leaving it) since it was routed there. */
  const leftShard = async (roomId: string, shard: Shard): Promise<boolean> => {
    await watch.poll().catch((error: unknown) => failed(error, 'polling room moves'));
    return watch.isMoving(roomId) || (await shardOf(roomId, true)).name !== shard.name;
  };

  // Copies of users on the shards
  /** By user, the shards holding a copy this process wrote or found current. */
  const copied = new Bounded<Set<string>>(200_000);
  const isCopied = (shard: Shard, userId: string) => copied.get(userId)?.has(shard.name) === true;
  const markCopied = (shard: Shard, userId: string) => copied.set(userId, (copied.get(userId) ?? new Set<string>()).add(shard.name));
  const ensureUsers = async (shard: Shard, ids: Array<string | null | undefined>): Promise<void> => {
    if (shard.store === primary.store) return;
    const missing = [...new Set(ids.filter((id): id is string => typeof id === 'string' && id !== ''))].filter((id) => !isCopied(shard, id));
    if (missing.length === 0) return;
    const rows = await primary.sql.users(missing);
    // A bot's owner first: the copy names it.
    const owners = [...new Set(rows.map((u) => u.bot_owner_id))].filter((id): id is string => id !== null && !missing.includes(id));
    if (owners.length > 0) await ensureUsers(shard, owners);
    // Copies missing there are inserted; copies that differ (a refresh lost to an outage) are
    // updated. A copy already current is not written: an upsert of it would lock its row for
    // update, and deadlock with a room write holding it (a member insert's key share), users in
    // another order.
    const there = new Map((await shard.sql.users(rows.map((r) => r.id))).map((r) => [r.id, r]));
    const absent = rows.filter((r) => !there.has(r.id));
    const stale = rows.filter((r) => {
      const copy = there.get(r.id);
      return copy !== undefined && !sameCopy(r, copy);
    });
    if (absent.length > 0) await shard.sql.insertUsers(absent);
    if (stale.length > 0) await shard.sql.upsertUsers(stale);
    for (const row of rows) markCopied(shard, row.id);
  };
  /** Rewrites the user's copy on every shard after a change on the primary. */
  const refreshUser = async (userId: string): Promise<void> => {
    copied.delete(userId);
    const rows = await primary.sql.users([userId]);
    if (rows.length === 0) return;
    const owner = rows[0]?.bot_owner_id ?? null;
    await Promise.all(
      databases
        .filter((s) => s.store !== primary.store)
        .map(async (s) => {
          if (owner !== null) await ensureUsers(s, [owner]);
          await s.sql.upsertUsers(rows);
        }),
    );
  };

  const call = (shard: Shard, method: string, args: unknown[]): Promise<unknown> => (shard.store[method as keyof Store] as Method).apply(shard.store, args);

  const onRoom = async (method: string, spec: RoomSpec, args: unknown[]): Promise<unknown> => {
    const roomId = spec.roomId(args);
    for (let attempt = 0; ; attempt += 1) {
      await (spec.write === true ? watch.writable(roomId) : watch.readable(roomId));
      const shard = await shardOf(roomId, attempt > 0);
      if (spec.users !== undefined) await ensureUsers(shard, spec.users(args));
      let result: unknown;
      try {
        result = await call(shard, method, args);
      } catch (error) {
        if (attempt + 1 < RETRIES && isNotFound(error) && (await leftShard(roomId, shard))) continue;
        throw error;
      }
      if (attempt + 1 < RETRIES && (spec.absent?.(result) === true || spec.confirm === true) && (await leftShard(roomId, shard))) continue;
      return result;
    }
  };

  /** Every database's answer, asked at once. */
  const everywhere = <T>(fn: (store: Store) => Promise<T>): Promise<T[]> => Promise.all(databases.map((s) => fn(s.store)));

  // Appends: split by shard, each part one transaction on its shard.
  const appendOn = async (shard: Shard, requests: AppendRequest[]): Promise<AppendOutcome[]> => {
    await ensureUsers(shard, requests.flatMap((r) => [r.userId, r.kind === 'member_joined' ? r.addedBy : null]));
    if (shard.store === primary.store) return (await call(shard, 'append', [requests])) as AppendOutcome[];
    const claimed = new Set<string>();
    for (const r of requests) {
      if (r.kind === 'message' && r.attachments !== undefined && r.attachments.length > 0) {
        for (const id of await primary.sql.claimAttachments(r.attachments, r.userId, r.roomId)) claimed.add(id);
      }
    }
    // The shard checks the attachments on its copies: those not claimed here are copied as they
    // are (attached to another message, say) and refused there; a copy the shard has attached
    // already stays attached.
    const ids = [...new Set(requests.flatMap((r) => (r.kind === 'message' ? (r.attachments ?? []) : [])))];
    if (ids.length > 0) {
      const rows = (await primary.sql.uploads(ids)).map((u) => (claimed.has(u.id) ? { ...u, state: 'ready' as const } : u));
      await ensureUsers(shard, rows.map((u) => u.user_id));
      await shard.sql.upsertUploads(rows);
    }
    // A failure here may follow a commit whose answer was lost: the claims stay (a send made
    // again with its clientMsgId claims them again), never given back under a committed message.
    const outcomes = (await call(shard, 'append', [requests])) as AppendOutcome[];
    const attached: Array<{ id: string; seq: number }> = [];
    const refused: string[] = [];
    const deleted = new Map<string, number[]>();
    requests.forEach((r, i) => {
      const outcome = outcomes[i];
      if (r.kind === 'message') {
        const mine = (r.attachments ?? []).filter((id) => claimed.has(id));
        if (outcome?.status === 'appended') for (const id of mine) attached.push({ id, seq: outcome.event.seq });
        // The same send made again after its answer was lost: its claims are settled now.
        else if (outcome?.status === 'duplicate') for (const id of mine) attached.push({ id, seq: outcome.message.seq });
        else refused.push(...mine);
      }
      if (r.kind === 'delete' && outcome?.status === 'appended') deleted.set(r.roomId, [...(deleted.get(r.roomId) ?? []), r.target]);
    });
    try {
      await primary.sql.settleAttachments(attached);
      for (const [roomId, seqs] of deleted) await primary.sql.doomAttachments(roomId, seqs);
      // A send refused because a racing one attached the upload first leaves it claimed.
      if (refused.length > 0) {
        const onShard = await shard.sql.uploadStates(refused);
        const free = refused.filter((id) => onShard.get(id) !== 'attached');
        if (free.length > 0) await primary.sql.releaseClaims(free);
      }
    } catch (error) {
      // Committed on the shard: the send stands. A claim left unsettled keeps its file.
      failed(error, 'recording attachments on the primary');
    }
    return outcomes;
  };

  const append = async (requests: AppendRequest[]): Promise<AppendOutcome[]> => {
    // Filled, not sparse: every() must see each request's place.
    const outcomes: Array<AppendOutcome | undefined> = requests.map(() => undefined);
    let failure: unknown = null;
    let pending = requests.map((_, i) => i);
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      const rooms = [...new Set(pending.map((i) => (requests[i] as AppendRequest).roomId))];
      const held = new Set(rooms.filter((roomId) => !watch.canWrite(roomId)));
      if (held.size === rooms.length) {
        // Only rooms being moved: wait for the moves (nothing else waits behind them).
        try {
          await Promise.all(rooms.map((roomId) => watch.writable(roomId)));
        } catch (error) {
          failure = error;
          break;
        }
      } else if (held.size > 0) {
        // Others are in the batch: they commit now, and the moving rooms' sends are answered
        // 503 (their clients send them again) rather than holding every send of this process.
        failure = new AppError('unavailable', 'The room is moving to another database; retry shortly.', undefined, 1);
        pending = pending.filter((i) => !held.has((requests[i] as AppendRequest).roomId));
      }
      const placed = new Map<string, Shard>();
      try {
        for (const [roomId, shard] of await Promise.all(rooms.filter((r) => !held.has(r) || held.size === rooms.length).map(async (roomId) => [roomId, await shardOf(roomId, attempt > 0)] as const))) placed.set(roomId, shard);
      } catch (error) {
        failure = error;
        break;
      }
      const byShard = new Map<Shard, number[]>();
      for (const i of pending) {
        const shard = placed.get((requests[i] as AppendRequest).roomId) as Shard;
        byShard.set(shard, [...(byShard.get(shard) ?? []), i]);
      }
      const retry: number[] = [];
      const results = await Promise.allSettled(
        [...byShard].map(async ([shard, indexes]) => {
          const answers = await appendOn(shard, indexes.map((i) => requests[i] as AppendRequest));
          const gone = new Map<string, boolean>();
          for (const [k, i] of indexes.entries()) {
            const outcome = answers[k] as AppendOutcome;
            const roomId = (requests[i] as AppendRequest).roomId;
            if (attempt + 1 < RETRIES && outcome.status === 'rejected' && outcome.code === 'not_found') {
              if (!gone.has(roomId)) gone.set(roomId, await leftShard(roomId, shard));
              if (gone.get(roomId) === true) {
                retry.push(i);
                continue;
              }
            }
            outcomes[i] = outcome;
          }
        }),
      );
      for (const result of results) if (result.status === 'rejected') failure ??= result.reason;
      pending = retry;
    }
    if (outcomes.every((o) => o !== undefined)) return outcomes as AppendOutcome[];
    if (outcomes.every((o) => o === undefined)) throw failure;
    throw new PartialAppendError(outcomes, failure);
  };

  const special: Record<string, Method> = {
    migrate: async () => {
      await primary.store.migrate();
      // The primary's own tables name rooms that are on the shards now: no foreign key of theirs can hold.
      await primary.sql.detachFromRooms(PRIMARY_TABLES);
      for (const shard of databases) if (shard.store !== primary.store) await shard.store.migrate();
      await watch.poll();
    },
    close: async () => {
      watch.close();
      await Promise.all(databases.map((s) => s.store.close()));
    },
    // Readiness is the primary's: one shard's outage fails its rooms' calls (503), not the node.
    ping: () => primary.store.ping(),

    append: (requests) => append(requests as AppendRequest[]),

    createRoom: async (room, ownerId) => {
      const { id, createdAt } = room as { id: string; createdAt: number };
      const name = rendezvous(id, placedOn);
      await primary.sql.place({ room_id: id, shard: name, dm_key: null, created_at: createdAt });
      placements.set(id, name);
      const shard = named(name, id);
      await ensureUsers(shard, [ownerId as string]);
      return call(shard, 'createRoom', [room, ownerId]);
    },

    getOrCreateDm: async (room, userA, userB) => {
      const dmKey = [...new Set([userA as string, userB as string])].sort().join(':');
      const r = room as { id: string; createdAt: number };
      /**
       * Where the pair's DM is: the directory first (a DM from before sharding gets its row,
       * with its key, when a move of it is announced), then the primary's own rooms.
       */
      const locate = async (): Promise<{ roomId: string; shard: string } | undefined> => {
        const placed = await primary.sql.directoryByDm(dmKey);
        if (placed !== undefined) return placed;
        const legacy = await primary.sql.legacyDm(dmKey);
        return legacy === undefined ? undefined : { roomId: legacy, shard: PRIMARY_SHARD };
      };
      for (let attempt = 0; ; attempt += 1) {
        let target = await locate();
        if (target === undefined) {
          await primary.sql.place({ room_id: r.id, shard: rendezvous(r.id, placedOn), dm_key: dmKey, created_at: r.createdAt });
          // Another node may have placed the pair's DM first: its room is the one.
          target = (await primary.sql.directoryByDm(dmKey)) as { roomId: string; shard: string };
        }
        await watch.writable(target.roomId);
        // Held by a move: the DM may be elsewhere now.
        const now = await locate();
        if (now === undefined || now.roomId !== target.roomId || now.shard !== target.shard) {
          if (attempt + 1 < RETRIES) continue;
          throw new AppError('unavailable', 'The conversation is moving to another database; retry shortly.');
        }
        const shard = named(target.shard, target.roomId);
        await ensureUsers(shard, [userA as string, userB as string]);
        return call(shard, 'getOrCreateDm', [{ ...r, id: target.roomId }, userA, userB]);
      }
    },

    setAvatar: async (owner, uploadId) => {
      if ('userId' in (owner as object)) {
        const done = await primary.store.setAvatar(owner as { userId: string }, uploadId as string | null);
        if (done) await refreshUser((owner as { userId: string }).userId);
        return done;
      }
      const { roomId } = owner as { roomId: string };
      for (let attempt = 0; ; attempt += 1) {
        await watch.writable(roomId);
        const shard = await shardOf(roomId, attempt > 0);
        if (shard.store === primary.store) return primary.store.setAvatar({ roomId }, uploadId as string | null);
        const previous = await shard.store.avatarOf({ roomId });
        let claimed = false;
        if (uploadId !== null) {
          claimed = await primary.sql.claimRoomAvatar(uploadId as string, roomId);
          if (!claimed) return false;
          const copy = (await primary.sql.uploads([uploadId as string])).map((u) => ({ ...u, state: 'ready' as const }));
          await ensureUsers(shard, copy.map((u) => u.user_id));
          await shard.sql.upsertUploads(copy);
        }
        // A failure may follow a commit whose answer was lost: the claim then stays (the file is kept).
        const done = await shard.store.setAvatar({ roomId }, uploadId as string | null);
        if (!done && claimed) await primary.sql.releaseClaims([uploadId as string]).catch((error: unknown) => failed(error, 'releasing a claimed avatar'));
        if (done) {
          if (previous !== undefined && previous.id !== uploadId) await primary.sql.doomUpload(previous.id);
          return true;
        }
        if (attempt + 1 < RETRIES && (await leftShard(roomId, shard))) continue;
        return false;
      }
    },

    purgeMessagesBefore: async (roomId, before, limit) => {
      const spec: RoomSpec = { roomId: first, write: true };
      const done = (await onRoom('purgeMessagesBefore', spec, [roomId, before, limit])) as { throughSeq: number };
      // The shard doomed its copies; the primary's rows are what the files sweep reads.
      if (done.throughSeq > 0) await primary.sql.doomAttachmentsThrough(roomId as string, done.throughSeq);
      return done;
    },

    avatarOf: async (owner) => {
      if ('userId' in (owner as object)) return primary.store.avatarOf(owner as { userId: string });
      return onRoom('avatarOf', { roomId: (args) => (args[0] as { roomId: string }).roomId }, [owner]);
    },

    updateProfile: async (userId, changes) => {
      const user = await primary.store.updateProfile(userId as string, changes as never);
      if (user !== undefined) await refreshUser(userId as string);
      return user;
    },

    // The shards' copies of the user follow: an erased account's names are its messages' author
    // names there, and its old username is free to register (and to be copied there) again.
    eraseUser: async (userId, at, erased) => {
      const revoked = await primary.store.eraseUser(userId as string, at as number, erased as never);
      if (revoked !== undefined) await refreshUser(userId as string);
      return revoked;
    },

    deactivateBot: async (botId, at) => {
      const done = await primary.store.deactivateBot(botId as string, at as number);
      await refreshUser(botId as string);
      const elsewhere = await Promise.all(databases.filter((s) => s.store !== primary.store).map((s) => s.store.listMemberRoomIds(botId as string)));
      return { tokenHashes: done.tokenHashes, roomIds: [...new Set([...done.roomIds, ...elsewhere.flat()])].sort() };
    },

    search: async (query) => {
      const q = query as SearchQuery;
      if (q.roomId !== undefined) return onRoom('search', { roomId: () => q.roomId as string }, [q]);
      const pages = await everywhere((s) => s.search(q));
      const hits = unique(
        pages.flatMap((p) => p.hits),
        (h) => `${h.message.roomId}\n${h.message.seq}`,
      ).sort((a, b) => b.message.createdAt - a.message.createdAt || (a.message.roomId < b.message.roomId ? -1 : a.message.roomId > b.message.roomId ? 1 : b.message.seq - a.message.seq));
      // Each database examined at most maxCandidates: a walk that stopped at the cap may have
      // left newer hits than some here, so the page says so.
      return { hits: hits.slice(0, q.limit), truncated: pages.some((p) => p.truncated), pending: pages.reduce((n, p) => n + p.pending, 0), pendingRooms: pages.flatMap((p) => p.pendingRooms) };
    },

    listMemberRooms: async (userId, unreadCap) => {
      const lists = await everywhere((s) => s.listMemberRooms(userId as string, unreadCap as number));
      return unique(lists.flat(), (r) => r.room.id).sort((a: RoomWithReadState, b: RoomWithReadState) => b.lastActivityAt - a.lastActivityAt || (a.room.id < b.room.id ? -1 : a.room.id > b.room.id ? 1 : 0));
    },

    // Asked to announce presence and profile changes (best effort): a shard that is down leaves its rooms out.
    listMemberRoomIds: async (userId) => {
      const lists = await Promise.allSettled(databases.map((s) => s.store.listMemberRoomIds(userId as string)));
      const ids = new Set<string>();
      for (const [i, list] of lists.entries()) {
        if (list.status === 'fulfilled') for (const id of list.value) ids.add(id);
        else failed(list.reason, `listing rooms of a user on shard ${databases[i]?.name}`);
      }
      return [...ids];
    },

    listPublicRooms: async (q, limit, consistency) => {
      const lists = await everywhere((s) => s.listPublicRooms(q as string | undefined, limit as number, consistency as never));
      const key = (name: string) => name.toLowerCase();
      return unique(lists.flat(), (r) => r.id)
        .sort((a, b) => (key(a.name) < key(b.name) ? -1 : key(a.name) > key(b.name) ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, limit as number);
    },

    listRooms: async (query) => {
      const q = query as AdminRoomQuery;
      const lists = await everywhere((s) => s.listRooms(q));
      // Newest first, ties by id descending: each shard's page is in that order, merged here.
      return unique(lists.flat(), (r) => r.id)
        .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .slice(0, q.limit);
    },

    listFollowedThreads: async (userId, cursor, limit, unreadCap) => {
      const n = limit as number;
      const pages = await everywhere((s) => s.listFollowedThreads(userId as string, cursor as ThreadCursor | null, n, unreadCap as number));
      const activity = (t: { root: { lastReplyAt?: number; createdAt: number } }) => t.root.lastReplyAt ?? t.root.createdAt;
      const all = unique(
        pages.flatMap((p) => p.threads),
        (t) => `${t.root.roomId}\n${t.root.seq}`,
      ).sort((a, b) => activity(b) - activity(a) || (a.root.roomId < b.root.roomId ? -1 : a.root.roomId > b.root.roomId ? 1 : a.root.seq - b.root.seq));
      const threads = all.slice(0, n);
      const last = threads.at(-1);
      const more = all.length > n || pages.some((p) => p.next !== null);
      return { threads, next: more && last !== undefined ? { at: activity(last), roomId: last.root.roomId, rootSeq: last.root.seq } : null };
    },

    roomsBehindNotifier: async (limit) => inTurns(await everywhere((s) => s.roomsBehindNotifier(limit as number)), limit as number),
    roomsBehindCursor: async (consumer, limit) => inTurns(await everywhere((s) => s.roomsBehindCursor(consumer as string, limit as number)), limit as number),

    listRetentionRooms: async (afterId, limit) => {
      const lists = await everywhere((s) => s.listRetentionRooms(afterId as string, limit as number));
      return unique(lists.flat(), (r) => r.id)
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, limit as number);
    },

    webhooksBehind: async (limit) => {
      const hooks = await primary.sql.activeWebhooks(WEBHOOKS_SWEPT);
      const heads = new Map<string, number>();
      const rooms = [...new Set(hooks.map((h) => h.roomId))];
      // A few at a time: the sweep must not take every connection of the pools.
      for (let i = 0; i < rooms.length; i += SWEEP_PARALLEL) {
        await Promise.all(
          rooms.slice(i, i + SWEEP_PARALLEL).map(async (roomId) => {
            try {
              const retention = (await onRoom('roomRetention', ROOM.roomRetention as RoomSpec, [roomId])) as { lastSeq: number } | undefined;
              if (retention !== undefined) heads.set(roomId, retention.lastSeq);
            } catch (error) {
              // A room whose shard is down (or that is moving) waits for the next sweep.
              failed(error, `reading the head of room ${roomId} for its webhooks`);
            }
          }),
        );
      }
      return hooks
        .filter((h) => (heads.get(h.roomId) ?? 0) > h.cursorSeq)
        .sort((a, b) => (heads.get(b.roomId) ?? 0) - b.cursorSeq - ((heads.get(a.roomId) ?? 0) - a.cursorSeq))
        .slice(0, limit as number)
        .map((h) => ({ id: h.id, cursorSeq: h.cursorSeq }));
    },

    listNotifications: async (userId, page) => {
      const p = page as NotificationPage;
      const shown = new Map<string, { name: string } | null>();
      const showing = async (roomId: string) => {
        const [room, member] = await Promise.all([
          onRoom('findRoom', ROOM.findRoom as RoomSpec, [roomId]) as Promise<{ name: string } | undefined>,
          onRoom('findMember', ROOM.findMember as RoomSpec, [roomId, userId]),
        ]);
        shown.set(roomId, room !== undefined && member !== undefined ? room : null);
      };
      // Rows of rooms the user left are left out, as the single database's join does: read on
      // past them (a few rounds at most) so that a page is short only at the end.
      const kept: NotificationRow[] = [];
      let cursor = p;
      for (let round = 0; round < NOTIFICATION_ROUNDS && kept.length < p.limit; round += 1) {
        const rows = await primary.sql.notificationRows(userId as string, cursor);
        await Promise.all([...new Set(rows.map((r) => r.room_id))].filter((id) => !shown.has(id)).map(showing));
        kept.push(...rows.filter((r) => shown.get(r.room_id) != null).slice(0, p.limit - kept.length));
        const last = rows.at(-1);
        if (rows.length < cursor.limit || last === undefined) break;
        cursor = p.after !== undefined ? { after: last.id, limit: p.limit } : { before: last.id, limit: p.limit };
      }
      const messages = await Promise.all(kept.map((r) => onRoom('findMessage', ROOM.findMessage as RoomSpec, [r.room_id, r.seq]) as Promise<{ body: string; deleted: boolean } | undefined>));
      return kept.map((r, i) => {
        const message = messages[i];
        return {
          id: r.id,
          roomId: r.room_id,
          roomName: (shown.get(r.room_id) as { name: string }).name,
          seq: r.seq,
          kind: r.kind,
          actor: toAuthor(r.actor_id, r.username, r.display_name, r.bot_owner_id),
          createdAt: r.created_at,
          body: message === undefined || message.deleted ? '' : message.body,
        };
      });
    },

    countUnreadNotifications: async (userId, readUpTo, cap) => {
      // The newest unread rows, a few times the cap: rows of rooms the user left are not counted.
      const rows = Math.min(UNREAD_ROWS, 4 * Math.max(1, cap as number));
      const rooms = await primary.sql.unreadNotificationRooms(userId as string, readUpTo as number, rows);
      let total = 0;
      for (let i = 0; i < rooms.length && total < (cap as number); i += SWEEP_PARALLEL) {
        const part = rooms.slice(i, i + SWEEP_PARALLEL);
        const members = await Promise.all(part.map((r) => onRoom('findMember', ROOM.findMember as RoomSpec, [r.roomId, userId])));
        part.forEach((r, k) => {
          if (members[k] !== undefined) total += r.count;
        });
      }
      return Math.min(total, cap as number);
    },
  };

  const unlisted = Object.keys(special).filter((name) => !SPECIAL.includes(name));
  if (unlisted.length > 0) throw new Error(`sharding: ${unlisted.join(', ')} missing from SPECIAL`);
  const store = new Proxy(primary.store, {
    get(target, property, receiver) {
      if (typeof property !== 'string') return Reflect.get(target, property, receiver);
      const own = special[property];
      if (own !== undefined) return own;
      const spec = ROOM[property];
      if (spec !== undefined) return (...args: unknown[]) => onRoom(property, spec, args);
      return Reflect.get(target, property, receiver);
    },
  });

  return { store, shards, shardOf: async (roomId) => (await shardOf(roomId, true)).name };
}
