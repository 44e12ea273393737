/**
 * The composition root: builds the adapters the configuration asks for, wires the services and
 * transports, and owns the lifecycle. No other module asks which mode it runs in.
 */
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { MemoryBus } from './adapters/memory/bus.js';
import { MemoryPresence } from './adapters/memory/presence.js';
import { MemoryRateLimiter } from './adapters/memory/rate-limiter.js';
import { openPostgresStore } from './adapters/sql/postgres.js';
import { openSqliteStore } from './adapters/sql/sqlite.js';
import type { Config } from './config.js';
import { Access } from './domain/access.js';
import { Accounts } from './domain/accounts.js';
import { MembershipCache } from './domain/membership-cache.js';
import { Messages } from './domain/messages.js';
import { PresenceService } from './domain/presence.js';
import { Publisher } from './domain/publisher.js';
import { Rooms } from './domain/rooms.js';
import { Search } from './domain/search.js';
import type { Services } from './domain/services.js';
import { StreamWriter } from './domain/stream-writer.js';
import { buildHttp } from './http/server.js';
import { createLogger, type Logger } from './observability/log.js';
import type { Bus, Store } from './ports.js';
import { Gateway } from './realtime/gateway.js';
import { RoomHub } from './realtime/room-hub.js';

export interface Parley {
  readonly config: Config;
  readonly services: Services;
  readonly http: FastifyInstance;
  readonly gateway: Gateway;
  /** http://host:port actually bound (PORT=0 picks a free port). */
  readonly url: string;
  /** Graceful, ordered and idempotent: the second call returns the first call's promise. */
  close(): Promise<void>;
}

export async function openStore(config: Config, log: Logger): Promise<Store> {
  if (config.DATABASE_URL !== '') {
    return openPostgresStore(config.DATABASE_URL, {
      poolSize: config.DATABASE_POOL_SIZE,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
      onError: (error: unknown) => log.error({ err: error }, 'postgres pool error'),
    });
  }
  return openSqliteStore(path.join(config.DATA_DIR, 'parley.db'));
}

export async function startParley(config: Config, log: Logger = createLogger(config.LOG_LEVEL)): Promise<Parley> {
  const store = await openStore(config, log);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  const bus: Bus = new MemoryBus();
  const onError = (error: unknown) => log.error({ err: error }, 'background task failed');

  const publisher = new Publisher(bus, onError);
  const members = new MembershipCache((roomId, userId) => store.findMember(roomId, userId));
  const access = new Access(store, members);
  const writer = new StreamWriter(store, publisher, members, {
    maxBatch: config.GROUP_COMMIT_MAX_BATCH,
    maxQueue: config.GROUP_COMMIT_MAX_BATCH * 20,
    onError,
  });
  const presenceAdapter = new MemoryPresence();
  const services: Services = {
    store,
    access,
    writer,
    accounts: new Accounts(store, publisher, { scryptCost: config.SCRYPT_COST, sessionTtlMs: config.SESSION_TTL_HOURS * 3_600_000 }),
    rooms: new Rooms(store, access, writer, presenceAdapter),
    messages: new Messages(store, access, writer, publisher, new MemoryRateLimiter({ ratePerSec: config.SEND_RATE_PER_SEC, burst: config.SEND_BURST })),
    search: new Search(store, access),
    presence: new PresenceService(store, presenceAdapter, publisher),
  };

  const hub = new RoomHub(bus, store, {
    replayLimit: config.REPLAY_LIMIT,
    gapTimeoutMs: config.ORDERING_GAP_TIMEOUT_MS,
    maxPending: 10_000,
    onError: (error, context) => log.error({ err: error, context }, 'room hub error'),
  });
  let draining = false;
  const http = await buildHttp(services, config, log, {
    notReadyReason: async () => {
      if (draining) return 'draining';
      try {
        await store.ping();
      } catch {
        return 'store unreachable';
      }
      return null;
    },
  });
  const gateway = new Gateway(services, hub, bus, config, log);
  gateway.attach(http.server);

  const sweeper = setInterval(() => {
    store.deleteExpiredSessions(Date.now()).catch(onError);
  }, 3_600_000);
  sweeper.unref();

  await http.listen({ port: config.PORT, host: config.HOST });
  const address = http.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
  log.info({ url, store: config.DATABASE_URL === '' ? 'sqlite' : 'postgres' }, 'parley listening');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      clearInterval(sweeper);
      await gateway.close();
      await http.close();
      await writer.flush();
      await hub.close();
      await bus.close();
      await store.close();
      log.info('parley stopped');
    })();
    return closing;
  };

  return { config, services, http, gateway, url, close };
}
