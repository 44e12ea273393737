/**
 * `parley worker`: a process that works jobs and holds no client connection, so an operator
 * scales the slow-work path apart from the nodes that hold sockets. It opens the store, Redis
 * and the bus as a node does (job events and purge notices reach the nodes' clients over the
 * bus), the job backend and the worker-thread pool, and serves only its probes and metrics.
 * It publishes its status on the bus as the nodes do (role `worker`), so the administrators'
 * view lists it beside them.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { endpointBreakers, openBreakers, openRedis, openStore } from './app.js';
import { openBus } from './adapters/open-bus.js';
import { closeRedis } from './adapters/redis/bus.js';
import type { Config } from './config.js';
import { Access } from './domain/access.js';
import { MembershipCache } from './domain/membership-cache.js';
import { MEMBERSHIP_CHANNEL, Publisher } from './domain/publisher.js';
import { metricsAllowed } from './http/server.js';
import { guardJobQueue, guardObjectStore } from './resilience/guarded-ports.js';
import { openObjectStore } from './adapters/open-object-store.js';
import { openSlowWork } from './jobs/slow-work.js';
import { RedisPresence } from './adapters/redis/presence.js';
import { RedisRateLimiter } from './adapters/redis/rate-limiter.js';
import { CLUSTER_PRESENCE_PARTITIONS, type RedisClient } from './adapters/redis/client.js';
import type { RateLimiter } from './ports.js';
import { roomMentionRule } from './notifications/open.js';
import { instrumentBus, instrumentStore } from './observability/instrument.js';
import { JobMetrics } from './observability/job-metrics.js';
import type { Logger } from './observability/log.js';
import { Metrics } from './observability/metrics.js';
import { logFailure, OutageLog } from './observability/outage-log.js';
import { decodeMembership } from './protocol/bus-codec.js';
import type { SlowWork } from './jobs/slow-work.js';
import { BUS_DROP_LOG_INTERVAL_MS, BusDrops } from './realtime/bus-drops.js';
import { NodeDirectory } from './realtime/node-directory.js';
import { PARLEY_VERSION } from './paths.js';
import { LoadShedder } from './resilience/load-shedder.js';

export interface JobWorker {
  url: string;
  slowWork: SlowWork;
  close(): Promise<void>;
}

export async function startJobWorker(config: Config, log: Logger): Promise<JobWorker> {
  const nodeId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const onError = (error: unknown) => logFailure(log, error, 'background task failed');
  const opened: Array<() => Promise<void>> = [];
  const unwind = async () => {
    for (const close of opened.reverse()) await close().catch(onError);
  };
  let slowWork: SlowWork | null = null;
  const breakers = openBreakers(config, log, () => metrics);
  const metrics = new Metrics({ connections: () => 0, caches: () => ({}), breakers: () => breakers.states() });
  opened.push(async () => breakers.close());
  const jobMetrics = new JobMetrics(metrics.registry, { jobs: () => slowWork?.jobs ?? null, queues: () => slowWork?.runtime.queues ?? [], pool: () => slowWork?.pool() ?? null });
  try {
    const rawStore = await openStore(config, log);
    opened.push(() => rawStore.close());
    await rawStore.migrate();
    const store = instrumentStore(rawStore, metrics);
    const redis = await openRedis(config, log);
    if (redis !== null) opened.push(() => closeRedis(redis, config.REDIS_COMMAND_TIMEOUT_MS));
    const rawBus = await openBus(
      config,
      (error, context) => logFailure(log, error, 'bus error', { context }),
      (connection) => new OutageLog(log, connection),
    );
    opened.push(() => rawBus.close());
    // Published in the envelope the nodes read (src/protocol/bus-envelope.ts), of the version they are told to write.
    const lost: { members: MembershipCache | null } = { members: null };
    const drops = new BusDrops({
      logIntervalMs: BUS_DROP_LOG_INTERVAL_MS,
      log: (fields) => log.warn(fields, 'bus message of an envelope version this worker does not read: dropped (nodes of two releases apart on the bus? see "Upgrading" in docs/operations.md)'),
      resyncRoom: () => {},
      membershipLost: () => lost.members?.clear(),
    });
    const bus = instrumentBus(rawBus, metrics, nodeId, { envelopeVersion: config.BUS_ENVELOPE_VERSION, onDropped: (channel, version) => drops.dropped(channel, version) });
    const publisher = new Publisher(bus, onError);
    const members = new MembershipCache((roomId, userId) => store.membership(roomId, userId), { loadMemberIds: (roomId) => store.listMemberIds(roomId) });
    lost.members = members;
    await bus.subscribe(MEMBERSHIP_CHANNEL, (payload) => {
      const change = decodeMembership(payload);
      if (change !== null) members.changed(change.roomId, change.userId, change.change);
    });
    bus.onReset(() => members.clear());
    const storageBreaker = breakers.for('storage', { message: 'File storage is unavailable; retry shortly.' });
    const objects = guardObjectStore(openObjectStore(config), storageBreaker);
    opened.push(() => objects.close());
    const work = await openSlowWork(config, {
      store,
      jobStore: rawStore,
      access: new Access(store, members),
      publisher,
      objects,
      storageAvailable: () => storageBreaker.state !== 'open',
      observer: jobMetrics,
      breakers: endpointBreakers(breakers),
      monitor: (connection) => new OutageLog(log, connection),
      guardJobs: (jobs) => guardJobQueue(jobs, breakers.for('jobs')),
      onError: (error, context) => logFailure(log, error, 'job backend error', { context }),
      onRetentionPass: (pass) => log.info(pass, 'retention pass deleted old messages and audit entries'),
      // With Redis, the nodes' @room limits and presence are there: this worker counts and reads
      // the same (so it can send digests); without it, presence is each node's own, and digests are the nodes'.
      ...(redis === null ? {} : notificationDeps(redis, config)),
    });
    slowWork = work;
    // Closed before the bus and the store: running jobs finish (or are given back) while they are open.
    opened.push(() => work.close(Math.min(5_000, config.SHUTDOWN_TIMEOUT_MS * 0.5)));
    // A worker is the one that works jobs, whatever JOBS_WORK says for the nodes.
    await work.runtime.start(work.jobs, true);

    let draining = false;
    const notReady = async () => {
      if (draining) return 'draining';
      try {
        await store.ping();
        return null;
      } catch {
        return 'store unreachable';
      }
    };
    // Measures the event loop's lag for the status; a worker turns nothing away by it.
    const lag = new LoadShedder({ thresholdMs: config.LOAD_SHED_LAG_MS });
    lag.start();
    opened.push(async () => lag.close());
    const directory = new NodeDirectory(bus, {
      id: nodeId,
      role: 'worker',
      host: hostname(),
      version: PARLEY_VERSION,
      intervalMs: config.NODE_STATUS_INTERVAL_MS,
      sample: async () => ({
        notReadyReason: await notReady(),
        connections: 0,
        messagesTotal: 0,
        deliveriesTotal: 0,
        jobsTotal: await jobMetrics.completedTotal(),
        eventLoopLagMs: lag.lagSeconds * 1000,
        breakers: Object.fromEntries([...breakers.states()].filter(([, state]) => state > 0)),
      }),
      onError: (error, context) => logFailure(log, error, 'worker status failed', { context }),
    });
    await directory.start();
    opened.push(() => directory.close());
    const server = probeServer(config, metrics, notReady);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.WORKER_PORT, config.HOST, () => resolve());
    });
    opened.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const address = server.address() as AddressInfo;
    const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    log.info({ url, nodeId, jobs: config.JOBS, queues: work.runtime.queues }, 'parley worker working jobs');
    let closing: Promise<void> | null = null;
    return {
      url,
      slowWork: work,
      close: () => {
        draining = true;
        closing ??= unwind().then(() => log.info('parley worker stopped'));
        return closing;
      },
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}

/** The @room limiter and the presence reader of the nodes, in Redis. */
function notificationDeps(redis: RedisClient, config: Config): { roomMentions: RateLimiter; online: (userIds: string[]) => Promise<Set<string>> } {
  const presence = new RedisPresence(redis, {
    prefix: config.REDIS_PREFIX,
    ttlMs: config.PRESENCE_TTL_MS,
    graceMs: config.PRESENCE_OFFLINE_GRACE_MS,
    partitions: config.REDIS_CLUSTER ? CLUSTER_PRESENCE_PARTITIONS : 1,
  });
  return {
    roomMentions: new RedisRateLimiter(redis, 'room-mention', roomMentionRule(config), { prefix: config.REDIS_PREFIX }),
    online: (userIds) => presence.online(userIds),
  };
}

function probeServer(config: Config, metrics: Metrics, notReady: () => Promise<string | null>): Server {
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-content-type-options': 'nosniff' }).end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return json(res, 405, { error: { code: 'validation_failed', message: 'Only GET is served here.' } });
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') {
      notReady().then(
        (reason) => (reason === null ? json(res, 200, { status: 'ready' }) : json(res, 503, { error: { code: 'unavailable', message: `Not ready: ${reason}.`, details: { reason } } })),
        () => json(res, 503, { error: { code: 'unavailable', message: 'Not ready.' } }),
      );
      return;
    }
    if (path === '/metrics') {
      if (!metricsAllowed(req.headers.authorization, req.socket.remoteAddress, req.headers, config.METRICS_TOKEN)) {
        return json(res, 403, { error: { code: 'forbidden', message: 'Metrics are served to loopback only; set METRICS_TOKEN to scrape from elsewhere.' } });
      }
      metrics.text().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.contentType }).end(text);
        },
        () => json(res, 503, { error: { code: 'unavailable', message: 'Metrics could not be collected; retry.' } }),
      );
      return;
    }
    json(res, 404, { error: { code: 'not_found', message: 'A worker serves /healthz, /readyz and /metrics only.' } });
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  return server;
}
