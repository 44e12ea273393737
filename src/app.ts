/**
 * The composition root: builds the adapters the configuration asks for, wires the services and
 * transports, and owns the lifecycle. No other module asks which mode it runs in.
 */
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { MemoryPresence } from './adapters/memory/presence.js';
import { MemoryRateLimiter } from './adapters/memory/rate-limiter.js';
import { busKind, openBus } from './adapters/open-bus.js';
import { type CallGuard, isNetworkOutage, isRedisOutage } from './adapters/outage.js';
import { closeRedis } from './adapters/redis/bus.js';
import { CLUSTER_PRESENCE_PARTITIONS, type RedisClient, redisClient } from './adapters/redis/client.js';
import { MemcachedCache } from './adapters/memcached/cache.js';
import { RedisCache } from './adapters/redis/cache.js';
import { watchRedis } from './adapters/redis/outage.js';
import { RedisPresence } from './adapters/redis/presence.js';
import { RedisRateLimiter } from './adapters/redis/rate-limiter.js';
import type { StoreWithJobs } from './adapters/sql/job-store.js';
import { explainPoolerRefusal, openPostgresStore } from './adapters/sql/postgres.js';
import { type ReplicatedStore, withReadReplicas } from './adapters/sql/postgres-replicas.js';
import { openShardedPostgres, type ShardedPostgres } from './adapters/sql/postgres-shards.js';
import { openThreadedSqliteStore } from './adapters/sql/sqlite-thread.js';
import { type Config, memcachedServers } from './config.js';
import type { BucketRule } from './core/token-bucket.js';
import { Access } from './domain/access.js';
import { Accounts, type CachedSession } from './domain/accounts.js';
import { Bots } from './domain/bots.js';
import { CacheAside } from './domain/cache-aside.js';
import { IncomingWebhooks } from './domain/incoming-webhooks.js';
import { MembershipCache } from './domain/membership-cache.js';
import { type HistoryPage, Messages } from './domain/messages.js';
import { People } from './domain/people.js';
import { PresenceService } from './domain/presence.js';
import { CACHE_CHANNEL, MEMBERSHIP_CHANNEL, PURGE_CHANNEL, Publisher } from './domain/publisher.js';
import { Rooms } from './domain/rooms.js';
import { Search } from './domain/search.js';
import { Moderation } from './domain/moderation.js';
import { Threads } from './domain/threads.js';
import type { Services } from './domain/services.js';
import { StreamWriter } from './domain/stream-writer.js';
import { buildHttp } from './http/server.js';
import { openSlowWork, type SlowWork } from './jobs/slow-work.js';
import { roomMentionRule } from './notifications/open.js';
import { type EndpointBreakers, isDeliveryFailure } from './webhooks/webhooks.js';
import { WorkerMetrics } from './observability/cluster-metrics.js';
import { JobMetrics } from './observability/job-metrics.js';
import { instrumentBus, instrumentRateLimiter, instrumentRedis, instrumentStore } from './observability/instrument.js';
import { createLogger, type Logger } from './observability/log.js';
import { Metrics, counterTotal } from './observability/metrics.js';
import { ReplicaMetrics } from './observability/replica-metrics.js';
import { logFailure, OutageLog } from './observability/outage-log.js';
import { decodeCacheKeys, decodeMembership, decodePurge } from './protocol/bus-codec.js';
import type { Bus, Cache, Presence, RateLimiter, Store } from './ports.js';
import { BUS_DROP_LOG_INTERVAL_MS, BusDrops } from './realtime/bus-drops.js';
import { BusProbe } from './realtime/bus-probe.js';
import { Gateway } from './realtime/gateway.js';
import { RoomHub } from './realtime/room-hub.js';
import { type BreakerState, Breakers } from './resilience/breaker.js';
import { guardBus, guardJobQueue, guardObjectStore, guardStore } from './resilience/guarded-ports.js';
import { openObjectStore } from './adapters/open-object-store.js';
import { LoadShedder } from './resilience/load-shedder.js';
import { retry } from './resilience/retry.js';
import { runShutdown } from './resilience/shutdown.js';
import { openPipeline } from './pipeline/open.js';
import { setFlushWindow } from './realtime/write-scheduler.js';
import { AnalyticsReports } from './domain/analytics-reports.js';
import { Administration } from './domain/administration.js';
import { NodeDirectory } from './realtime/node-directory.js';
import { ConsoleWatch } from './realtime/console-watch.js';
import { QUEUES } from './jobs/slow-work.js';
import { PARLEY_VERSION } from './paths.js';

export interface Parley {
  readonly config: Config;
  readonly services: Services;
  readonly http: FastifyInstance;
  readonly gateway: Gateway;
  readonly hub: RoomHub;
  readonly bus: Bus;
  readonly metrics: Metrics;
  readonly slowWork: SlowWork;
  /**
   * The circuit breakers of this process: `store`, `redis`, `bus` (those configured), and for
   * code that calls out, `breakers.for('jobs')` and `breakers.for('webhook:' + endpointId)`.
   */
  readonly breakers: Breakers;
  /** Whether new requests and connections are turned away for event-loop lag. */
  readonly shedder: LoadShedder;
  /** Unique per process: names its probe channel and its logs. */
  readonly nodeId: string;
  /** http://host:port actually bound (PORT=0 picks a free port). */
  readonly url: string;
  /** Null when ready to take traffic; else why not. */
  notReadyReason(): Promise<string | null>;
  /** Graceful, ordered and idempotent: the second call returns the first call's promise. */
  close(): Promise<void>;
}

/**
 * The store the configuration asks for; its outages are logged once each (see OutageLog).
 * `serving`: the store serves requests (not only a migration), so its threads start at once.
 */
export async function openStore(config: Config, log: Logger, serving = false): Promise<StoreWithJobs> {
  if (config.DATABASE_SHARD_URLS.length > 0) return openShards(config, log).store;
  if (config.DATABASE_URL !== '') {
    return openPostgresStore(config.DATABASE_URL, {
      poolSize: config.DATABASE_POOL_SIZE,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
      pooler: config.DATABASE_POOLER,
      monitor: new OutageLog(log, 'postgres'),
    });
  }
  return openThreadedSqliteStore(path.join(config.DATA_DIR, 'parley.db'), {
    maxQueued: config.SQLITE_THREAD_MAX_QUEUE,
    cacheMb: config.SQLITE_CACHE_MB,
    // A search stops at its own deadline; the thread is stuck only if it does not answer well after.
    searchStallMs: config.SEARCH_TIMEOUT_MS + 5_000,
    onDetached: (thread, calls) => log.error({ thread, calls }, 'store thread stuck: detached, its calls failed; a fresh thread takes the next calls'),
    startReadersAfterMigrate: serving,
    monitor: new OutageLog(log, 'sqlite'),
  });
}

/** The primary and DATABASE_SHARD_URLS, rooms spread over the shards (sharding.ts); each database's outages logged once each. */
export function openShards(config: Config, log: Logger): ShardedPostgres {
  return openShardedPostgres(config.DATABASE_URL, config.DATABASE_SHARD_URLS, {
    poolSize: config.DATABASE_POOL_SIZE,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    pooler: config.DATABASE_POOLER,
    monitor: new OutageLog(log, 'postgres'),
    shardPoolSize: config.DATABASE_SHARD_POOL_SIZE,
    movePollMs: config.DATABASE_SHARD_MOVE_POLL_MS,
    moveWaitMs: config.DATABASE_SHARD_MOVE_WAIT_MS,
    shardMonitor: (name) => new OutageLog(log, `postgres shard ${name}`),
    onError: (error, context) => logFailure(log, error, 'room sharding', { context }),
  });
}

/**
 * `primary` with its reads routed over DATABASE_REPLICA_URLS (postgres-replicas.ts), their lag and
 * the routes taken in the metrics, each replica's leaving and rejoining the rotation logged.
 */
async function openReadReplicas(config: Config, log: Logger, primary: StoreWithJobs, metrics: Metrics): Promise<ReplicatedStore> {
  // Registered first: the replicas' states are read at each scrape, once they are open.
  let replicated: ReplicatedStore | null = null;
  const replicaMetrics = new ReplicaMetrics(metrics.registry, () => replicated?.monitor.states() ?? []);
  replicated = await withReadReplicas(
    primary,
    config.DATABASE_URL,
    config.DATABASE_REPLICA_URLS,
    { poolSize: config.DATABASE_POOL_SIZE, statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS, pooler: config.DATABASE_POOLER },
    {
      probeMs: config.DATABASE_REPLICA_PROBE_MS,
      maxLagMs: config.DATABASE_REPLICA_MAX_LAG_MS,
      replicaMonitor: (name) => new OutageLog(log, `postgres replica ${name}`),
      onChange: (replica, inRotation, reason) => {
        if (inRotation) log.info({ replica }, 'read replica in rotation');
        else log.warn({ replica, reason }, 'read replica out of rotation: its reads go to the primary');
      },
      onRead: (route) => replicaMetrics.read(route),
      onError: (error, context) => logFailure(log, error, 'read replica routing', { context }),
    },
  );
  return replicated;
}

/** What a dependency that is starting, restarting or unreachable answers: worth another attempt at start. */
function isStartupOutage(error: unknown): boolean {
  // isRedisOutage covers `unavailable` and socket errors too; NATS says ConnectionError.
  return isRedisOutage(error) || isNetworkOutage(error) || (error instanceof Error && error.name === 'ConnectionError');
}

/**
 * Runs `connect` until it succeeds, with exponential backoff and full jitter, when it fails for
 * an outage (a dependency started at the same time as Parley, or restarting): at most
 * STARTUP_CONNECT_ATTEMPTS attempts, each logged. Connecting and migrating are safe to repeat.
 */
function atStart<T>(config: Config, log: Logger, what: string, connect: () => Promise<T>): Promise<T> {
  return retry(connect, {
    attempts: config.STARTUP_CONNECT_ATTEMPTS,
    baseMs: 500,
    maxMs: 5_000,
    retryable: isStartupOutage,
    onRetry: (error, attempt, delayMs) => log.warn({ err: error, attempt, attempts: config.STARTUP_CONNECT_ATTEMPTS, delayMs }, `${what} not reachable at start; retrying`),
  });
}

/**
 * Brings the schema up to date, waiting for the database at start (see atStart). A migration is
 * one transaction under a lock that records what it applied: repeating one that failed is safe.
 */
export function migrateStore(store: Store, config: Config, log: Logger): Promise<void> {
  return atStart(config, log, 'database', () => store.migrate());
}

export async function openRedis(config: Config, log: Logger): Promise<RedisClient | null> {
  if (config.REDIS_URL === '') return null;
  const redis = redisClient(config.REDIS_URL, { cluster: config.REDIS_CLUSTER, seeds: config.REDIS_CLUSTER_NODES, commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS, connectionName: 'parley' });
  // Sessions, cache, rate limits and presence share this connection: one outage, logged once.
  watchRedis(redis, new OutageLog(log, 'redis'));
  await atStart(config, log, 'redis', async () => {
    try {
      await redis.connect();
    } catch (error) {
      // ioredis would go on reconnecting by itself: stop it, so the next attempt (or giving up) owns the client.
      redis.disconnect();
      throw error;
    }
  });
  return redis;
}

function rateLimiter(redis: RedisClient | null, guard: CallGuard, config: Config, name: string, rule: BucketRule): RateLimiter {
  return redis === null ? new MemoryRateLimiter(rule) : new RedisRateLimiter(redis, name, rule, { prefix: config.REDIS_PREFIX, guard });
}

/**
 * The cache shared by the nodes: memcached when CACHE_URL names it (behind its own breaker),
 * else Redis when there is one, else none.
 */
export function openSharedCache(config: Config, redis: RedisClient | null, redisGuard: CallGuard, breakers: Breakers, opened: Array<() => Promise<void>>): Cache | null {
  const servers = config.CACHE_URL === '' ? null : memcachedServers(config.CACHE_URL);
  if (servers !== null) {
    const breaker = breakers.for('cache', { message: 'The cache is unavailable; retry shortly.' });
    const cache = new MemcachedCache(servers, { prefix: config.REDIS_PREFIX, timeoutMs: config.CACHE_TIMEOUT_MS, guard: (call) => breaker.run(call) });
    opened.push(async () => cache.close());
    return cache;
  }
  return redis === null ? null : new RedisCache(redis, { prefix: config.REDIS_PREFIX, guard: redisGuard });
}

/** One line when a breaker opens and one when it closes again; its probes at debug. */
/** The breakers of a process, reporting their changes to its metrics (once it has them) and its log. */
export function openBreakers(config: Config, log: Logger, metrics: () => Metrics | null): Breakers {
  return new Breakers({
    errorThresholdPercent: config.BREAKER_ERROR_THRESHOLD_PERCENT,
    volumeThreshold: config.BREAKER_VOLUME_THRESHOLD,
    resetMs: config.BREAKER_RESET_MS,
    rollingWindowMs: config.BREAKER_ROLLING_WINDOW_MS,
    maxEndpoints: config.BREAKER_MAX_ENDPOINTS,
    // Every call guarded so far has a timeout of its own (statement and query timeouts, Redis
    // command timeouts, a webhook's deadline); a breaker for calls without one sets its own.
    timeoutMs: false,
    observer: {
      created: (kind) => metrics()?.breakerCreated(kind),
      transition: (name, kind, from, to, openForMs) => {
        metrics()?.breakerTransitions.labels(kind, to).inc();
        logBreaker(log, name, from, to, openForMs, config.BREAKER_RESET_MS);
      },
      rejected: (kind) => metrics()?.breakerRejected.labels(kind).inc(),
    },
  });
}

/** Calls in a window before an endpoint's breaker may open. */
const WEBHOOK_BREAKER_VOLUME = 4;

/** Webhook deliveries, each behind its endpoint's breaker: no answer, a 5xx or a 429 count against it. */
export function endpointBreakers(breakers: Breakers): EndpointBreakers {
  return {
    // A few failures suffice: an endpoint that hangs fails a call per deadline (10 s), too few to
    // reach the dependencies' volume within a window, and would hold delivery slots for good.
    run: (webhookId, call) =>
      breakers.for(`webhook:${webhookId}`, { message: 'The webhook endpoint is failing; deliveries wait.', isFailure: isDeliveryFailure, volumeThreshold: WEBHOOK_BREAKER_VOLUME }).run(call),
  };
}

function logBreaker(log: Logger, name: string, from: BreakerState, to: BreakerState, openForMs: number | null, resetMs: number): void {
  if (to === 'open' && from === 'closed') log.info({ breaker: name, resetMs }, `breaker open: ${name} calls fail at once for a while`);
  else if (to === 'closed') log.info({ breaker: name, openMs: openForMs }, `breaker closed: ${name} calls go through again`);
  else log.debug({ breaker: name, state: to }, 'breaker probe');
}

/** How often a node with an in-process bus reads the audit log for console actions that end sessions, ms. */
const CONSOLE_WATCH_INTERVAL_MS = 2_000;

export async function startParley(config: Config, log: Logger = createLogger(config.LOG_LEVEL, config.LOG_FORMAT)): Promise<Parley> {
  const nodeId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  // An outage's consequences (failed publishes, gap fills, presence updates) are debug lines:
  // the connection that failed logged the outage once. Anything else is logged as an error.
  const onError = (error: unknown) => logFailure(log, error, 'background task failed');
  // Everything opened so far, closed in reverse if a later step fails.
  const opened: Array<() => Promise<void>> = [];
  const unwind = async () => {
    for (const close of opened.reverse()) await close().catch(onError);
  };
  let gateway: Gateway | null = null;
  const caches: Record<string, { hits: number; misses: number }> = {};
  const shedder = new LoadShedder({
    thresholdMs: config.LOAD_SHED_LAG_MS,
    onChange: (shedding, lagMs) => {
      const fields = { lagMs: Math.round(lagMs), thresholdMs: config.LOAD_SHED_LAG_MS };
      if (shedding) log.warn(fields, 'event loop lagging: turning new requests and connections away');
      else log.info(fields, 'event loop caught up: accepting new requests and connections again');
    },
  });
  // The metrics read the breakers' states, and the breakers report to the metrics.
  let metricsRef: Metrics | null = null;
  const breakers = openBreakers(config, log, () => metricsRef);
  const metrics = new Metrics({
    connections: () => gateway?.connectionCount ?? 0,
    caches: () => caches,
    breakers: () => breakers.states(),
    load: () => ({ lagSeconds: shedder.lagSeconds, shedding: shedder.shedding }),
  });
  metricsRef = metrics;
  // Closed last: the last calls of a shutdown still go through their breakers.
  opened.push(async () => {
    breakers.close();
    shedder.close();
  });
  let slowWork: SlowWork | null = null;
  const jobMetrics = new JobMetrics(metrics.registry, { jobs: () => slowWork?.jobs ?? null, queues: () => slowWork?.runtime.queues ?? [], pool: () => slowWork?.pool() ?? null });
  try {
    let rawStore = await openStore(config, log, true);
    // Closes the primary, and the replicas once they route reads.
    opened.push(() => rawStore.close());
    await migrateStore(rawStore, config, log);
    // The serving pool is not the migration's: a setting that only it trips on (a PgBouncer
    // reached without DATABASE_POOLER=pgbouncer) stops the start here, said plainly.
    await atStart(config, log, 'database', () => rawStore.ping()).catch((error: unknown) => {
      throw explainPoolerRefusal(error);
    });
    const replicated = config.DATABASE_REPLICA_URLS.length > 0 ? await openReadReplicas(config, log, rawStore, metrics) : null;
    if (replicated !== null) rawStore = replicated.store;
    // The breaker outside the instrumentation: store metrics time real calls only; refused ones
    // are counted by the breaker (parley_breaker_rejected_total).
    const store = guardStore(instrumentStore(rawStore, metrics), breakers.for('store', { message: 'The database is unavailable; retry shortly.' }));
    const redis = await openRedis(config, log);
    let redisGuard: CallGuard = (call) => call();
    if (redis !== null) {
      instrumentRedis(redis, metrics);
      opened.push(() => closeRedis(redis, config.REDIS_COMMAND_TIMEOUT_MS));
      const breaker = breakers.for('redis', { message: 'Redis is unavailable; retry shortly.' });
      redisGuard = (call) => breaker.run(call);
    }
    const rawBus = await atStart(config, log, 'bus', () =>
      openBus(
        config,
        (error, context) => logFailure(log, error, 'bus error', { context }),
        (connection) => new OutageLog(log, connection),
      ),
    );
    opened.push(() => rawBus.close());
    // Only a network bus can be down; publishing is guarded, subscribing has its own deadline.
    // A message dropped unread (an envelope version this node does not read) is a possible loss
    // on its channel: the room or cache it concerns catches up (set once they exist).
    const lost: { hub: RoomHub | null; members: MembershipCache | null } = { hub: null, members: null };
    const drops = new BusDrops({
      logIntervalMs: BUS_DROP_LOG_INTERVAL_MS,
      log: (fields) => log.warn(fields, 'bus message of an envelope version this node does not read: dropped, its room resynced from the store (nodes of two releases apart on the bus? see "Upgrading" in docs/operations.md)'),
      resyncRoom: (roomId) => lost.hub?.resyncRoom(roomId),
      membershipLost: () => lost.members?.clear(),
    });
    const instrumentedBus = instrumentBus(rawBus, metrics, nodeId, { envelopeVersion: config.BUS_ENVELOPE_VERSION, onDropped: (channel, version) => drops.dropped(channel, version) });
    const bus = ['redis', 'nats'].includes(busKind(config))
      ? guardBus(instrumentedBus, breakers.for('bus', { message: 'The bus is unavailable.' }), { onError: (error, context) => logFailure(log, error, 'bus error', { context }) })
      : instrumentedBus;

    const publisher = new Publisher(bus, onError);
    const members = new MembershipCache((roomId, userId) => store.membership(roomId, userId), {
      loadMemberIds: (roomId) => store.listMemberIds(roomId),
    });
    lost.members = members;
    await bus.subscribe(MEMBERSHIP_CHANNEL, (payload) => {
      const change = decodeMembership(payload);
      if (change === null) log.error('undecodable membership message on the bus');
      else members.changed(change.roomId, change.userId, change.change);
    });
    const access = new Access(store, members);
    const writer = new StreamWriter(store, publisher, members, {
      maxBatch: config.GROUP_COMMIT_MAX_BATCH,
      maxQueue: config.GROUP_COMMIT_MAX_BATCH * 20,
      onError,
      observer: {
        batch: (size, messages) => {
          metrics.groupCommitBatchSize.observe(size);
          if (messages > 0) metrics.messagesSent.inc(messages);
        },
        committed: (seconds) => metrics.sendCommitDuration.observe(seconds),
        failed: () => metrics.groupCommitFailures.inc(),
      },
    });
    const presenceAdapter: Presence & Partial<Pick<RedisPresence, 'heartbeat' | 'sweep' | 'heartbeatIntervalMs'>> =
      redis === null
        ? new MemoryPresence({ graceMs: config.PRESENCE_OFFLINE_GRACE_MS })
        : new RedisPresence(redis, {
            prefix: config.REDIS_PREFIX,
            ttlMs: config.PRESENCE_TTL_MS,
            graceMs: config.PRESENCE_OFFLINE_GRACE_MS,
            guard: redisGuard,
            partitions: config.REDIS_CLUSTER ? CLUSTER_PRESENCE_PARTITIONS : 1,
            onError: (error, context) => logFailure(log, error, 'presence', { context }),
          });
    const presence = new PresenceService(store, presenceAdapter, publisher, {
      announceIntervalMs: config.PRESENCE_ANNOUNCE_INTERVAL_MS,
      offlineGraceMs: config.PRESENCE_OFFLINE_GRACE_MS,
      onError,
    });
    // With Redis (or memcached, CACHE_URL), sessions and the newest history page of each room
    // are cached there, shared by every node; without either the store answers (a primary-key
    // read on SQLite is cheaper than keeping caches coherent across workers).
    const sharedCache = openSharedCache(config, redis, redisGuard, breakers, opened);
    // Write marks in the shared cache: a user's next read on any process waits for their write.
    replicated?.shareMarks(sharedCache);
    if (replicated !== null && sharedCache === null && config.WORKERS !== 1) {
      log.warn('read replicas with several processes and no shared cache (REDIS_URL or CACHE_URL): a user reads their own writes from replicas only on the process that took them');
    }
    const cacheError = (error: unknown) => logFailure(log, error, 'cache failed; reading the store');
    const sessionCache =
      sharedCache === null ? null : new CacheAside<CachedSession>(sharedCache, { ttlMs: 60_000, encode: JSON.stringify, decode: JSON.parse, onError: cacheError });
    const historyCache =
      sharedCache === null ? null : new CacheAside<HistoryPage>(sharedCache, { ttlMs: 60_000, encode: JSON.stringify, decode: JSON.parse, onError: cacheError });
    caches.membership = members;
    caches.member_lists = members.lists;
    if (sessionCache !== null) caches.sessions = sessionCache;
    if (historyCache !== null) caches.history = historyCache;
    if (sessionCache !== null) {
      await bus.subscribe(CACHE_CHANNEL, (payload) => {
        const keys = decodeCacheKeys(payload);
        if (keys === null) log.error('undecodable cache message on the bus');
        else sessionCache.forgetInflight(keys);
      });
    }
    const storageBreaker = breakers.for('storage', { message: 'File storage is unavailable; retry shortly.' });
    const objects = guardObjectStore(openObjectStore(config), storageBreaker);
    opened.push(() => objects.close());
    // Committed events leave the send path here: to the event log, or straight to search indexing.
    const pipeline = await openPipeline(config, { store, metrics, node: nodeId, onError: (error, context) => logFailure(log, error, 'event pipeline error', { context }) });
    opened.push(() => pipeline.close());
    const work = await openSlowWork(config, {
      store,
      jobStore: rawStore,
      access,
      publisher,
      objects,
      storageAvailable: () => storageBreaker.state !== 'open',
      observer: {
        ran: (queue, outcome, seconds) => {
          jobMetrics.ran(queue, outcome, seconds);
          if (outcome === 'completed' || outcome === 'retry' || outcome === 'dead') {
            pipeline.ops.emit(outcome === 'completed' ? 'job.completed' : outcome === 'dead' ? 'job.dead' : 'job.failed', { queue, seconds });
          }
        },
      },
      breakers: endpointBreakers(breakers),
      monitor: (connection) => new OutageLog(log, connection),
      guardJobs: (jobs) => guardJobQueue(jobs, breakers.for('jobs')),
      onError: (error, context) => logFailure(log, error, 'job backend error', { context }),
      onRetentionPass: (pass) => log.info(pass, 'retention pass deleted old messages and audit entries'),
      roomMentions: rateLimiter(redis, redisGuard, config, 'room-mention', roomMentionRule(config)),
      online: (userIds) => presence.online(userIds),
    });
    slowWork = work;
    opened.push(() => work.close(0));
    const { blocks } = work.notifications;
    const accounts = new Accounts(store, publisher, {
      scryptCost: config.SCRYPT_COST,
      sessionTtlMs: config.SESSION_TTL_HOURS * 3_600_000,
      ...(sessionCache === null ? {} : { sessionCache: { cache: sessionCache, ttlMs: 60_000, onRevoked: (keys: string[]) => publisher.cacheInvalidated(keys) } }),
    });
    const rooms = new Rooms(store, access, writer, presenceAdapter, { unreadCap: config.UNREAD_COUNT_CAP, checkDm: (userId, otherId) => blocks.checkDm(userId, otherId) });
    const messages = new Messages(store, access, writer, publisher, instrumentRateLimiter(rateLimiter(redis, redisGuard, config, 'send', { ratePerSec: config.SEND_RATE_PER_SEC, burst: config.SEND_BURST }), 'send', metrics), historyCache, config.REACTIONS_PER_MESSAGE_MAX);
    // Neither of two users who blocked one another can send into their direct-message room.
    messages.checkSends((roomId, userId) => blocks.checkSend(roomId, userId));
    const bots = new Bots(store, accounts, writer, { maxPerOwner: config.BOTS_PER_USER_MAX });
    const profileLimiter = rateLimiter(redis, redisGuard, config, 'profile', { ratePerSec: config.PROFILE_RATE_PER_MIN / 60, burst: config.PROFILE_RATE_PER_MIN });
    const people = new People(store, publisher, instrumentRateLimiter(profileLimiter, 'profile', metrics));
    const moderation = new Moderation(store, access, writer);
    // Set once the bus probe runs (below): the admin page's view of every node.
    let directory: NodeDirectory | null = null;
    const services: Services = {
      store,
      access,
      writer,
      accounts,
      bots,
      incomingWebhooks: new IncomingWebhooks(store, access, rooms, bots, messages),
      rooms,
      people,
      messages,
      moderation,
      threads: new Threads(store, access, { unreadCap: config.UNREAD_COUNT_CAP }),
      search: new Search(
        store,
        access,
        { maxCandidates: config.SEARCH_MAX_CANDIDATES, timeoutMs: config.SEARCH_TIMEOUT_MS, maxConcurrent: config.SEARCH_MAX_CONCURRENT },
        { catchUp: (roomId) => pipeline.catchUp(roomId), onError: (error, context) => logFailure(log, error, 'search index catch-up failed', { context }) },
      ),
      presence,
      authLimiter: instrumentRateLimiter(rateLimiter(redis, redisGuard, config, 'auth', { ratePerSec: config.AUTH_RATE_PER_MIN / 60, burst: config.AUTH_RATE_PER_MIN }), 'auth', metrics),
      jobs: work.jobs,
      exports: work.exports,
      retention: work.retention,
      webhooks: work.webhooks,
      files: work.files,
      notifications: work.notifications.notifications,
      blocks,
      ops: pipeline.ops,
      analytics: new AnalyticsReports(store, pipeline.analytics),
      admin: new Administration(
        { store, accounts, moderation, writer, jobs: work.jobs, nodes: () => directory?.list() ?? [] },
        { scryptCost: config.SCRYPT_COST, queues: QUEUES },
      ),
    };
    // Every committed event may be owed to a room's webhooks: handed on after the commit, never awaited.
    writer.listen((event) => work.webhooks.committed(event.roomId, event.seq));
    // Every committed event goes down the pipeline (the log's relay, or search indexing).
    writer.listen((event) => pipeline.committed(event));
    // New messages may notify members: the notifier runs for their room off the send path.
    writer.listen((event) => work.notifications.notifier.committed(event));
    // A deleted message may have carried files: the sweep deletes them soon (asked at most once per window).
    writer.listen((event) => {
      if (event.kind === 'delete') work.files.sweepSoon();
    });

    const hub = new RoomHub(bus, store, {
      replayLimit: config.REPLAY_LIMIT,
      recentEvents: config.ROOM_RECENT_EVENTS,
      recentBytes: config.ROOM_RECENT_BYTES,
      recentTotalBytes: config.RECENT_EVENTS_TOTAL_BYTES,
      gapTimeoutMs: config.ORDERING_GAP_TIMEOUT_MS,
      maxPending: 10_000,
      maxPendingBytes: config.SLOW_CONSUMER_BYTES,
      membersAmong: async (roomId, userIds) => new Set((await store.membersAmong(roomId, userIds)).ids),
      onlineMembers: async (roomId) => {
        metrics.presenceRoomLoads.inc();
        return presence.online(await members.memberIds(roomId));
      },
      isOnline: async (userId) => (await presence.online([userId])).has(userId),
      presenceBatchMs: config.PRESENCE_BATCH_MS,
      presenceListMax: config.PRESENCE_LIST_MAX,
      presenceFlushMax: config.PRESENCE_FLUSH_MAX,
      onError: (error, context) => logFailure(log, error, 'room hub error', { context }),
      onGapFill: (events) => {
        metrics.gapFills.inc();
        metrics.gapFilledEvents.inc(events);
      },
      onEventsRead: (forGap) => metrics.hubEventReads.inc({ reason: forGap ? 'gap' : 'catch_up' }),
      onDelivered: (count) => metrics.eventsWritten(count),
      ...(pipeline.delivered === undefined ? {} : { onLiveWrite: pipeline.delivered }),
      onOtherFrames: (count) => metrics.otherFramesWritten(count),
      onPresenceFrames: (single, batches) => {
        if (single > 0) metrics.presenceFrames.inc({ type: 'presence' }, single);
        if (batches > 0) metrics.presenceFrames.inc({ type: 'presence_batch' }, batches);
      },
    });
    lost.hub = hub;
    // Retention tombstoned old messages of a room: no node replays them from memory.
    await bus.subscribe(PURGE_CHANNEL, (payload) => {
      const purge = decodePurge(payload);
      if (purge === null) log.error('undecodable purge message on the bus');
      else hub.forgetThrough(purge.roomId, purge.throughSeq);
    });
    // The bus may have dropped messages: catch every open room up from the store.
    bus.onReset(() => {
      log.warn({ rooms: hub.roomCount }, 'bus reset: resyncing rooms from the store');
      // Membership changes and presence announcements may have been lost too.
      members.clear();
      hub.resync();
    });
    // Only a network bus can stop delivering silently; the in-process and IPC ones cannot.
    const probe = ['redis', 'nats'].includes(busKind(config))
      ? new BusProbe(bus, nodeId, {
          intervalMs: config.BUS_PROBE_INTERVAL_MS,
          onError: (error, context) => logFailure(log, error, 'bus probe failed', { context }),
          onStale: () => log.warn('bus probe missing: resubscribing'),
        })
      : null;
    await probe?.start();
    opened.push(async () => probe?.close());

    let draining = false;
    const notReadyReason = async (): Promise<string | null> => {
      if (draining) return 'draining';
      try {
        await store.ping();
      } catch {
        return 'store unreachable';
      }
      return probe?.notReadyReason ?? null;
    };
    directory = new NodeDirectory(bus, {
      id: nodeId,
      host: hostname(),
      version: PARLEY_VERSION,
      intervalMs: config.NODE_STATUS_INTERVAL_MS,
      sample: async () => ({
        notReadyReason: await notReadyReason(),
        connections: gateway?.connectionCount ?? 0,
        messagesTotal: await counterTotal(metrics.messagesSent),
        deliveriesTotal: await counterTotal(metrics.eventsDelivered),
        jobsTotal: await jobMetrics.completedTotal(),
        eventLoopLagMs: shedder.lagSeconds * 1000,
        breakers: Object.fromEntries([...breakers.states()].filter(([, state]) => state > 0)),
      }),
      onError: (error, context) => logFailure(log, error, 'node status failed', { context }),
    });
    await directory.start();
    const nodeDirectory = directory;
    opened.push(() => nodeDirectory.close());
    // In a cluster, a scrape of any worker answers for the whole node (the primary merges).
    const workerMetrics = cluster.isWorker ? new WorkerMetrics(metrics.registry) : null;
    const http = await buildHttp(services, config, log, { notReadyReason, overloaded: () => shedder.shedding }, {
      metrics,
      text: () => (workerMetrics === null ? metrics.text() : workerMetrics.collect()),
    });
    const ws = new Gateway(services, hub, bus, config, log, metrics, { overloaded: () => shedder.shedding });
    gateway = ws;
    setFlushWindow(config.WS_FLUSH_MS);
    ws.attach(http.server);

    const timers = [
      setInterval(() => store.deleteExpiredSessions(Date.now()).catch(onError), 3_600_000),
    ];
    // With an in-process bus, `parley admin` reaches this node through the audit log only.
    if (!['redis', 'nats'].includes(busKind(config))) {
      const watch = new ConsoleWatch(store, {
        recheckSessions: (userId) => ws.recheckSessions(userId),
        resyncRoom: (roomId) => hub.resyncRoom(roomId),
        usersLeft: () => {
          members.clear();
          hub.resync();
        },
      });
      await watch.start();
      timers.push(setInterval(() => watch.poll().catch(onError), CONSOLE_WATCH_INTERVAL_MS));
    }
    if (presenceAdapter.heartbeat !== undefined && presenceAdapter.sweep !== undefined) {
      const { heartbeat, sweep } = { heartbeat: presenceAdapter.heartbeat.bind(presenceAdapter), sweep: presenceAdapter.sweep.bind(presenceAdapter) };
      timers.push(
        setInterval(() => {
          heartbeat()
            .then(() => sweep())
            .then((gone) => presence.expired(gone))
            // Presence answers again: rooms whose online sets missed a skipped change read them again.
            .then(() => {
              if (presence.takeMissed()) hub.refreshPresence();
            })
            .catch(onError);
        }, presenceAdapter.heartbeatIntervalMs),
      );
    }
    for (const timer of timers) timer.unref();

    await work.start();
    pipeline.start();
    await http.listen({ port: config.PORT, host: config.HOST });
    shedder.start();
    const address = http.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
    log.info({ url, nodeId, store: config.DATABASE_URL === '' ? 'sqlite' : 'postgres', bus: busKind(config) }, 'parley listening');

    let closing: Promise<void> | null = null;
    const close = (): Promise<void> => {
      // Not ready, then no new connections (in a cluster, this worker leaves the round robin),
      // then stop reading frames and let every request already read commit and be answered, then
      // close every socket with 1012 so clients reconnect elsewhere and resume, announce who went
      // offline, and close the dependencies. Every step runs, whatever the one before it did.
      // Within the shutdown deadline (the process exits at SHUTDOWN_TIMEOUT_MS whatever happens),
      // with a margin: each step gets its share, and less when the ones before took long.
      const total = config.SHUTDOWN_TIMEOUT_MS;
      const drainMs = Math.min(5_000, total * 0.4);
      const closeMs = Math.min(4_000, total * 0.25);
      closing ??= runShutdown(
        [
          {
            name: 'stop accepting',
            run: () => {
              draining = true;
              for (const timer of timers) clearInterval(timer);
              ws.stopAccepting();
              http.server.close();
            },
          },
          { name: 'answer requests in flight', run: () => ws.drain(drainMs), timeoutMs: drainMs + 1_000 },
          { name: 'commit appends', run: () => writer.flush() },
          // Running jobs get what is left of the drain's share; those still running then run again elsewhere.
          { name: 'stop jobs', run: () => work.close(Math.min(3_000, total * 0.2)), timeoutMs: Math.min(3_000, total * 0.2) + 1_000 },
          { name: 'close connections', run: () => ws.close(undefined, undefined, closeMs), timeoutMs: closeMs + 500 },
          { name: 'announce presence', run: () => presence.flush() },
          // After the last connection and job event; what was committed is in the store, and the
          // relay and the indexer go on from it on the next start.
          { name: 'close the event pipeline', run: () => pipeline.close() },
          { name: 'close http', run: () => http.close() },
          { name: 'close rooms', run: () => hub.close() },
          { name: 'close dependencies', run: () => unwind() },
        ],
        {
          deadlineAt: Date.now() + total - Math.min(1_000, total * 0.1),
          defaultTimeoutMs: Math.min(5_000, total * 0.2),
          onError: (error, step) => log.error({ err: error, step }, 'shutdown step failed'),
        },
      ).then(({ failed }) => {
        if (failed.length === 0) log.info('parley stopped');
        else log.warn({ failed }, 'parley stopped; some shutdown steps failed');
      });
      return closing;
    };

    return { config, services, http, gateway: ws, hub, bus, metrics, breakers, shedder, slowWork: work, nodeId, url, notReadyReason, close };
  } catch (error) {
    await unwind();
    throw error;
  }
}
