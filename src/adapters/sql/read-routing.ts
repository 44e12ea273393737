/**
 * A Store that sends the reads that scale with users (history pages, threads, member lists,
 * room lists, public rooms, search, reactions) to read replicas, and everything else to the
 * primary: every write, every read of authorization (membership, sessions), and every read that
 * names no reader (jobs, exports, the stream's own recovery).
 *
 * Read-your-writes, exactly: each write through this store marks the users it concerns (the
 * author, the member added, kicked or banned, the one whose marker moved) with the time it
 * finished; a replica serves a reader only once it has caught up to that time (replica-monitor.ts
 * tells). A read that names the room state it must include (ReadConsistency: a seq the reader
 * has seen, say over another server's WebSocket, or the head a cached page is keyed by) is served
 * by a replica only once that replica's copy of the room has it; else by the primary, at once.
 * A read that runs to the head of a room's stream (history not bounded by `before`, a thread's
 * replies) and names no head reads the head from the primary first (one primary-key read): a
 * client paging forward to fill a gap reaches the live stream, as it does without replicas.
 *
 * A replica that fails a read for an outage leaves the rotation (until it answers a probe
 * again) and the read is served by the primary: a replica's restart costs no request. A search
 * past its deadline fails as it would on the primary.
 */
import { AppError } from '../../errors.js';
import type { AppendRequest, HistoryQuery, ModerationRequest, ReadConsistency, SearchQuery, Store } from '../../ports.js';
import type { ReplicaMonitor } from './replica-monitor.js';
import type { WriteMarks } from './write-marks.js';

/** Why a routed read went where it did. */
export type ReadRoute = 'replica' | 'no_reader' | 'own_write' | 'room_behind' | 'no_replica' | 'replica_failed';

export interface ReadRoutingOptions {
  monitor: ReplicaMonitor;
  marks: WriteMarks;
  /** Told of every read this routes: served by a replica (`replica`), or by the primary and why. */
  onRead?: (route: ReadRoute) => void;
  /** Told when a replica failed a read (it leaves the rotation; the primary serves the read). */
  onReplicaError?: (replica: number, error: unknown) => void;
  /** Run by close() after the stores are closed (the monitor's own connections). */
  release?: () => Promise<void>;
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

const fromConsistency = (c: ReadConsistency | undefined): ReadSpec => (c === undefined ? {} : { readerId: c.readerId, seenSeq: c.seenSeq, head: c.head });

/** The routed reads, and what each says of its reader and room. */
const READS: Record<string, (args: unknown[]) => ReadSpec> = {
  readHistory: ([query]) => {
    const q = query as HistoryQuery;
    return { ...fromConsistency(q.consistency), roomId: q.roomId, toHead: q.before === undefined };
  },
  readThread: (args) => ({ ...fromConsistency(args[4] as ReadConsistency | undefined), roomId: args[0] as string, toHead: true }),
  listMembers: (args) => ({ ...fromConsistency(args[2] as ReadConsistency | undefined), roomId: args[0] as string }),
  listPublicRooms: (args) => fromConsistency(args[2] as ReadConsistency | undefined),
  listMemberRooms: ([userId]) => ({ readerId: userId as string }),
  reactionsOf: ([roomId, , userId]) => ({ readerId: userId as string, roomId: roomId as string }),
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

const isOutage = (error: unknown): boolean => error instanceof AppError && error.code === 'unavailable';

type Method = (...args: unknown[]) => Promise<unknown>;

/**
 * `primary` with reads routed over `replicas` (Stores on hot standbys of it, in the monitor's
 * order). close() closes the monitor, the primary and every replica.
 */
export function routeReads<S extends Store>(primary: S, replicas: Store[], options: ReadRoutingOptions): S {
  const { monitor, marks } = options;
  const served = (route: ReadRoute) => options.onRead?.(route);

  const onPrimary = (method: string, args: unknown[], route: ReadRoute): Promise<unknown> => {
    served(route);
    return (primary[method as keyof Store] as Method).apply(primary, args);
  };

  const read = async (method: string, args: unknown[], spec: ReadSpec): Promise<unknown> => {
    if (spec.readerId === undefined) return onPrimary(method, args, 'no_reader');
    const index = monitor.choose(marks.since(spec.readerId));
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
      if (!isOutage(error) || (spec.deadlineAt !== undefined && Date.now() >= spec.deadlineAt)) throw error;
      monitor.failed(index);
      options.onReplicaError?.(index, error);
      return onPrimary(method, args, 'replica_failed');
    }
  };

  const write = (method: string, args: unknown[], users: (args: unknown[]) => Array<string | null | undefined>): Promise<unknown> => {
    const finished = () => {
      // Also after a failure: a write whose answer was lost may have committed.
      const at = monitor.now();
      for (const user of users(args)) if (typeof user === 'string') marks.mark(user, at);
      // Marks older than any replica in rotation may lag bind no read: forgotten (oldest first, so cheap).
      marks.prune(at - monitor.maxLagMs);
    };
    const call = (primary[method as keyof Store] as Method).apply(primary, args);
    return call.then(
      (value) => {
        finished();
        return value;
      },
      (error: unknown) => {
        finished();
        throw error;
      },
    );
  };

  const wrappers = new Map<string, unknown>();
  const close = async () => {
    await monitor.close();
    await Promise.all([primary.close(), ...replicas.map((r) => r.close())]);
    await options.release?.();
  };
  return new Proxy(primary, {
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
}
