/**
 * What `parley admin` opens to act as the nodes do: the store, the bus (so a revocation closes
 * the user's WebSockets on every node and a room's event reaches its members) and the shared
 * cache (so a revoked session is forgotten there). A network bus (Redis, NATS) reaches every
 * node; with the embedded one (one machine, no REDIS_URL or NATS_URL) the console reaches no
 * running node: sessions it ends are refused at once by REST (no cache stands between), and the
 * node closes their WebSockets when it reads the audit entry (src/realtime/console-watch.ts).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { openBreakers, openRedis, openSharedCache } from '../app.js';
import { busKind, openBus } from '../adapters/open-bus.js';
import { closeRedis } from '../adapters/redis/bus.js';
import type { Config } from '../config.js';
import { Access } from '../domain/access.js';
import { Accounts, type CachedSession } from '../domain/accounts.js';
import { Administration } from '../domain/administration.js';
import { CacheAside } from '../domain/cache-aside.js';
import { MembershipCache } from '../domain/membership-cache.js';
import { Moderation } from '../domain/moderation.js';
import { Publisher } from '../domain/publisher.js';
import { StreamWriter } from '../domain/stream-writer.js';
import { NO_OBSERVER } from '../jobs/observer.js';
import { openJobQueue } from '../jobs/open-jobs.js';
import { QUEUES } from '../jobs/slow-work.js';
import { Metrics } from '../observability/metrics.js';
import { instrumentBus } from '../observability/instrument.js';
import type { Logger } from '../observability/log.js';
import { logFailure } from '../observability/outage-log.js';
import type { StoreWithJobs } from '../adapters/sql/job-store.js';

export interface AdminConsole {
  admin: Administration;
  /** Whether the bus reaches the running nodes (a network bus). */
  reachesNodes: boolean;
  close(): Promise<void>;
}

export async function openAdminConsole(config: Config, log: Logger, store: StoreWithJobs): Promise<AdminConsole> {
  const onError = (error: unknown) => logFailure(log, error, 'admin console');
  const opened: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const step of opened.reverse()) await step().catch(onError);
  };
  try {
    const breakers = openBreakers(config, log, () => null);
    opened.push(async () => breakers.close());
    const redis = await openRedis(config, log);
    if (redis !== null) opened.push(() => closeRedis(redis, config.REDIS_COMMAND_TIMEOUT_MS));
    const rawBus = await openBus(config, (error, context) => logFailure(log, error, 'bus error', { context }));
    opened.push(() => rawBus.close());
    const metrics = new Metrics({ connections: () => 0 });
    const nodeId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}-console`;
    // Published in the envelope the nodes read, of the version they are told to write.
    const bus = instrumentBus(rawBus, metrics, nodeId, { envelopeVersion: config.BUS_ENVELOPE_VERSION, onDropped: () => {} });
    const publisher = new Publisher(bus, onError);
    const members = new MembershipCache((roomId, userId) => store.membership(roomId, userId), { loadMemberIds: (roomId) => store.listMemberIds(roomId) });
    const writer = new StreamWriter(store, publisher, members, { maxBatch: 16, maxQueue: 256, onError });
    const shared = openSharedCache(config, redis, (call) => call(), breakers, opened);
    const sessionCache = shared === null ? null : new CacheAside<CachedSession>(shared, { ttlMs: 60_000, encode: JSON.stringify, decode: JSON.parse, onError });
    const accounts = new Accounts(store, publisher, {
      scryptCost: config.SCRYPT_COST,
      sessionTtlMs: config.SESSION_TTL_HOURS * 3_600_000,
      ...(sessionCache === null ? {} : { sessionCache: { cache: sessionCache, ttlMs: 60_000, onRevoked: (keys: string[]) => publisher.cacheInvalidated(keys) } }),
    });
    // This process reads and repairs the queues: it works no job.
    const jobs = await openJobQueue(config, { store, observer: NO_OBSERVER, onError: (error, context) => logFailure(log, error, 'job backend error', { context }) });
    opened.push(() => jobs.close(0));
    const admin = new Administration(
      { store, accounts, moderation: new Moderation(store, new Access(store, members), writer), writer, jobs, nodes: null },
      { scryptCost: config.SCRYPT_COST, queues: QUEUES },
    );
    return { admin, reachesNodes: ['redis', 'nats'].includes(busKind(config)), close };
  } catch (error) {
    await close();
    throw error;
  }
}
