/**
 * A Store that sends the reads that scale with users (history pages, threads, member lists,
 * room lists, public rooms, search, reactions) to read replicas, and everything else to the
 * primary: every write, every read of authorization (membership, sessions), and every read that
 * names no reader (jobs, exports, the stream's own recovery).
 *
 * Read-your-writes, exactly, in every process: each write through this store is followed by one
 * read of the primary's WAL insert position, which is then the mark of every user the write
 * concerns (the author; the member added, kicked or banned; the one whose marker moved), kept
 * here and in the cache the nodes share (write-marks.ts) before the write is answered. A replica
 * serves a reader only once it has replayed past their mark (replica-monitor.ts tells how far
 * each has). A read that names the room state it must include (ReadConsistency: a seq the reader
 * has seen, say over another server's WebSocket, or the head a cached page is keyed by) is served
 * by a replica only once that replica's copy of the room has it; else by the primary, at once.
 * A read that runs to the head of a room's stream (history not bounded by `before`, a thread's
 * replies) and names no head reads the head from the primary first (one primary-key read): a
 * client paging forward to fill a gap reaches the live stream, as it does without replicas.
 *
 * A replica that loses its connection in a read leaves the rotation (replica-monitor.ts) and the
 * read is served by the primary: a replica's restart costs no request. A read cancelled on a
 * replica by a conflict with its replay is served by the primary too, the replica staying in
 * rotation. A read that ran out of time on a replica (its statement timeout, a search's
 * deadline) fails as it would on the primary, rather than running again there.
 */
import { AppError } from '../../errors.js';
import type { AppendRequest, HistoryQuery, ModerationRequest, ReadConsistency, SearchQuery, Store } from '../../ports.js';
import { postgresFailureKind } from '../outage.js';
import type { ReplicaMonitor } from './replica-monitor.js';
import { later, type SharedMarks, UNKNOWN_POSITION, type WriteMarks } from './write-marks.js';

/** Why a routed read went where it did. */
export type ReadRoute = 'replica' | 'no_reader' | 'own_write' | 'room_behind' | 'no_replica' | 'replica_failed' | 'replica_conflict';

export interface ReadRoutingOptions {
  monitor: ReplicaMonitor;
  marks: WriteMarks;
  /** The primary's WAL insert position now (a write's mark). */
  position: () => Promise<bigint>;
  /** The marks every process sees, once the shared cache is open (setSharedMarks). */
  shared?: SharedMarks | null;
  /** Told of every read this routes: served by a replica (`replica`), or by the primary and why. */
  onRead?: (route: ReadRoute) => void;
  /** Told when a replica failed a read, and when a mark could not be read or kept: reads go to the primary meanwhile. */
  onError?: (error: unknown, context: string) => void;
  /** Run by close() after the stores are closed (the monitor's own connections). */
  release?: () => Promise<void>;
}

/** The routed store, and where to give it the shared marks once the shared cache is open. */
export interface ReadRouter<S extends Store> {
  store: S;
  setSharedMarks(shared: SharedMarks | null): void;
}

interface ReadSpec {
  readerId?: string | undefined;
  roomId?: string | undefined;
  seenSeq?: number | undefined;
  head?: { lastSeq: number; purgedSeq: number } | undefined;
  /** The read runs to the head of the room's stream: without `head`, the primary's is read first. */
  toHead?: boolean;
  /** Past it (epoch ms), a failure is the read's own deadline, not the replica's outage. */
  deadlineAt?: number | undefined;
}

const fromConsistency = (c: ReadConsistency | undefined): ReadSpec => (c === undefined ? {} : { readerId: c.readerId, seenSeq: c.seenSeq, head: c.head, toHead: c.upToHead === true });

/** The routed reads, and what each says of its reader and room. */
const READS: Record<string, (args: unknown[]) => ReadSpec> = {
  readHistory: ([query]) => {
    const q = query as HistoryQuery;
    return { ...fromConsistency(q.consistency), roomId: q.roomId, toHead: q.before === undefined || q.consistency?.upToHead === true };
  },
  readThread: (args) => ({ ...fromConsistency(args[4] as ReadConsistency | undefined), roomId: args[0] as string, toHead: true }),
  listMembers: (args) => ({ ...fromConsistency(args[2] as ReadConsistency | undefined), roomId: args[0] as string }),
  listPublicRooms: (args) => fromConsistency(args[2] as ReadConsistency | undefined),
  listMemberRooms: ([userId]) => ({ readerId: userId as string }),
  // The reactions of a page must be as fresh as the page: the same room state is asked of them.
  reactionsOf: (args) => ({ readerId: args[2] as string, ...fromConsistency(args[3] as ReadConsistency | undefined), roomId: args[0] as string }),
  search: ([query]) => ({ readerId: (query as SearchQuery).userId, deadlineAt: (query as SearchQuery).deadlineAt }),
};

/** The writes that change what a routed read answers, and the users whose reads must see them. */
const WRITES: Record<string, (args: unknown[]) => Array<string | null | undefined>> = {
  append: ([requests]) => (requests as AppendRequest[]).flatMap((r) => [r.userId, r.kind === 'member_joined' ? r.addedBy : null]),
  moderate: ([request]) => {
    const { actorId, action } = request as ModerationRequest;
    return [actorId, 'memberId' in action ? action.memberId : null];
  },
  createRoom: ([, ownerId]) => [ownerId as string],
  getOrCreateDm: ([, userA, userB]) => [userA as string, userB as string],
  advanceReadMarker: ([, userId]) => [userId as string],
  setThreadFollow: ([, , userId]) => [userId as string],
  markThreadRead: ([, , userId]) => [userId as string],
  updateProfile: ([userId]) => [userId as string],
  setAvatar: ([owner]) => ['userId' in (owner as object) ? (owner as { userId: string }).userId : null],
  block: ([userId]) => [userId as string],
  unblock: ([userId]) => [userId as string],
};

type Method = (...args: unknown[]) => Promise<unknown>;


/**
 * `primary` with reads routed over `replicas` (Stores on hot standbys of it, in the monitor's
 * order). close() closes the monitor, the primary and every replica.
 */
export function routeReads<S extends Store>(primary: S, replicas: Store[], options: ReadRoutingOptions): ReadRouter<S> {
  const { monitor, marks } = options;
  let shared = options.shared ?? null;
  const served = (route: ReadRoute) => options.onRead?.(route);
  const failed = (error: unknown, context: string) => options.onError?.(error, context);

  const onPrimary = (method: string, args: unknown[], route: ReadRoute): Promise<unknown> => {
    served(route);
    return (primary[method as keyof Store] as Method).apply(primary, args);
  };

  /** Where the reader's latest write ends, as this process and the shared cache know it. */
  const markOf = async (readerId: string): Promise<bigint | null> => {
    const own = marks.since(readerId);
    if (shared === null) return own;
    try {
      const theirs = await shared.get(readerId);
      return own === null ? theirs : theirs === null ? own : later(own, theirs);
    } catch (error) {
      // Whether another process took a write of theirs is unknown: the primary answers.
      failed(error, 'reading a write mark');
      return UNKNOWN_POSITION;
    }
  };

  const read = async (method: string, args: unknown[], spec: ReadSpec): Promise<unknown> => {
    if (spec.readerId === undefined) return onPrimary(method, args, 'no_reader');
    const index = monitor.choose(await markOf(spec.readerId));
    if (index === null) return onPrimary(method, args, monitor.anyInRotation ? 'own_write' : 'no_replica');
    const replica = replicas[index] as Store;
    const roomId = spec.roomId;
    let head = spec.head;
    // The primary's answer fails the read as it would without replicas.
    if (roomId !== undefined && head === undefined && spec.toHead === true) head = await primary.roomRetention(roomId);
    try {
      if (roomId !== undefined && (head !== undefined || spec.seenSeq !== undefined)) {
        const copy = await replica.roomRetention(roomId);
        const needSeq = Math.max(spec.seenSeq ?? 0, head?.lastSeq ?? 0);
        if (copy === undefined || copy.lastSeq < needSeq || copy.purgedSeq < (head?.purgedSeq ?? 0)) return onPrimary(method, args, 'room_behind');
      }
      const result = await (replica[method as keyof Store] as Method).apply(replica, args);
      served('replica');
      return result;
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'unavailable')) throw error;
      if (spec.deadlineAt !== undefined && Date.now() >= spec.deadlineAt) throw error;
      const kind = postgresFailureKind(error);
      if (kind === 'cancelled') throw error;
      failed(error, `reading from replica ${index}`);
      if (kind === 'conflict') return onPrimary(method, args, 'replica_conflict');
      if (kind === 'connection') monitor.failed(index);
      return onPrimary(method, args, 'replica_failed');
    }
  };

  /** Marks `users` with the primary's position now: their reads wait for a replica past it. */
  const mark = async (users: string[]): Promise<void> => {
    if (users.length === 0) return;
    let lsn: bigint;
    try {
      lsn = await options.position();
    } catch (error) {
      failed(error, 'reading the primary position of a write');
      lsn = UNKNOWN_POSITION;
    }
    const at = monitor.now();
    for (const user of users) marks.mark(user, lsn, at);
    // Marks older than a mark lives bind no read: forgotten (oldest first, so cheap).
    marks.prune(at - monitor.markTtlMs);
    if (shared === null) return;
    try {
      await shared.set(users, lsn);
    } catch (error) {
      // This process holds the mark; others may read stale until it expires. Said, not hidden.
      failed(error, 'sharing a write mark');
    }
  };

  const write = async (method: string, args: unknown[], users: (args: unknown[]) => Array<string | null | undefined>): Promise<unknown> => {
    const concerned = [...new Set(users(args).filter((u): u is string => typeof u === 'string'))];
    try {
      return await (primary[method as keyof Store] as Method).apply(primary, args);
    } finally {
      // Also after a failure: a write whose answer was lost may have committed.
      await mark(concerned);
    }
  };

  const wrappers = new Map<string, unknown>();
  const close = async () => {
    await monitor.close();
    try {
      const closed = await Promise.allSettled([primary.close(), ...replicas.map((r) => r.close())]);
      const rejected = closed.find((c): c is PromiseRejectedResult => c.status === 'rejected');
      if (rejected !== undefined) throw rejected.reason;
    } finally {
      await options.release?.();
    }
  };
  const store = new Proxy(primary, {
    get(target, property) {
      if (property === 'close') return close;
      const value = Reflect.get(target, property);
      if (typeof property !== 'string' || typeof value !== 'function') return value;
      let wrapped = wrappers.get(property);
      if (wrapped === undefined) {
        const spec = READS[property];
        const users = WRITES[property];
        wrapped =
          spec !== undefined
            ? (...args: unknown[]) => read(property, args, spec(args))
            : users !== undefined
              ? (...args: unknown[]) => write(property, args, users)
              : (value as Method).bind(target);
        wrappers.set(property, wrapped);
      }
      return wrapped;
    },
  });
  return {
    store,
    setSharedMarks: (next) => {
      shared = next;
    },
  };
}
