/**
 * Configuration: environment variables only, validated once at start. A bad value names the
 * variable and stops the process (see ConfigError). docs/operations.md mirrors OPTIONS: the
 * test in test/config.test.ts checks that every option is documented there.
 */
import path from 'node:path';
import { parseShardUrl, type ShardUrl } from './adapters/sql/postgres-url.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export type Env = Record<string, string | undefined>;

interface Option<T> {
  /** What it does, its unit and what happens at the limit. */
  doc: string;
  default: string;
  parse(raw: string, name: string): T;
}

const integer = (min: number, max: number) => (raw: string, name: string): number => {
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be an integer, got "${raw}".`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}.`);
  return value;
};

const boolean = (raw: string, name: string): boolean => {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}".`);
};

const text = (raw: string): string => raw.trim();

const oneOf = <T extends string>(...values: T[]) => (raw: string, name: string): T => {
  const v = raw.trim() as T;
  if (!values.includes(v)) throw new ConfigError(`${name} must be one of ${values.join(', ')}, got "${raw}".`);
  return v;
};

const postgresUrl = (raw: string, name: string): string => {
  const v = raw.trim();
  if (v === '') return '';
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new ConfigError(`${name} must be a postgres:// URL, got "${raw}".`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`${name} must be a postgres:// URL, got protocol "${url.protocol}".`);
  }
  return v;
};

/** Comma-separated host:port pairs (host names and IPv4 addresses; ports 1–65535); none when empty. */
const hostPorts = (raw: string, name: string): Array<{ host: string; port: number }> =>
  raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const match = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(part);
      const port = Number(match?.[2]);
      if (match === null || port < 1 || port > 65_535) throw new ConfigError(`${name} must be a comma-separated list of host:port, got "${part}".`);
      return { host: match[1] as string, port };
    });

/** Comma-separated postgres:// URLs; none when empty. */
const postgresUrls = (raw: string, name: string): string[] =>
  raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => postgresUrl(part, name));

/** `name=postgres://…` or a bare URL (named host:port/database), comma-separated. */
const shardUrls = (raw: string, name: string): ShardUrl[] =>
  raw
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      try {
        const shard = parseShardUrl(part);
        return { name: shard.name, url: postgresUrl(shard.url, name) };
      } catch (error) {
        if (error instanceof ConfigError) throw error;
        throw new ConfigError(`${name}: ${(error as Error).message}`);
      }
    });

const origins = (raw: string, name: string): string[] => {
  const list = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const o of list) {
    if (o === '*') continue;
    try {
      const u = new URL(o);
      if (u.origin !== o.replace(/\/$/, '')) throw new Error('not an origin');
    } catch {
      throw new ConfigError(`${name} must be a comma-separated list of origins like https://chat.example.com, got "${o}".`);
    }
  }
  return list.map((o) => o.replace(/\/$/, ''));
};

/** A database name: letters, digits and _, not starting with a digit. */
const identifierText = (raw: string, name: string): string => {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(raw)) throw new ConfigError(`${name} must be letters, digits and _ (not starting with a digit), got "${raw}".`);
  return raw;
};

const serviceUrl = (schemes: string[]) => (raw: string, name: string): string => {
  if (raw === '') return raw;
  try {
    const u = new URL(raw);
    if (!schemes.includes(u.protocol.replace(/:$/, ''))) throw new Error('scheme');
  } catch {
    throw new ConfigError(`${name} must be a URL like ${schemes[0]}://host:port, got "${raw}".`);
  }
  return raw;
};

/**
 * The servers of a memcached://host:port[,host:port…] URL as host:port strings (port 11211 when
 * left out), sorted and each once: a key's server is chosen by its hash over this list, so
 * every node must see the same list whatever order the URL names them in. null when it is no
 * such URL (host names and IPv4 addresses only; ports 1–65535).
 */
export function memcachedServers(url: string): string[] | null {
  const match = /^memcached:\/\/([^/?#]+)\/?$/.exec(url);
  if (match === null) return null;
  const servers: string[] = [];
  for (const part of (match[1] ?? '').split(',')) {
    const server = /^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(part.trim());
    const port = Number(server?.[2] ?? 11211);
    if (server === null || port < 1 || port > 65_535) return null;
    servers.push(`${server[1]}:${port}`);
  }
  return [...new Set(servers)].sort();
}

/** memcached://host:port, or several servers: memcached://a:11211,b:11211. */
const memcachedUrl = (raw: string, name: string): string => {
  if (raw !== '' && memcachedServers(raw) === null) {
    throw new ConfigError(`${name} must be memcached://host:port (or memcached://host:port,host:port for several), got "${raw}".`);
  }
  return raw;
};

/** An http(s) URL that paths are appended to (ASSET_BASE_URL): no query, fragment or credentials. */
const baseUrl = (raw: string, name: string): string => {
  if (serviceUrl(['https', 'http'])(raw, name) === '') return raw;
  const u = new URL(raw);
  if (u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '') {
    throw new ConfigError(`${name} must be a URL that paths are appended to, like https://cdn.example.com/parley (no query, fragment or credentials), got "${raw}".`);
  }
  return raw;
};

const workers = (raw: string, name: string): number | 'auto' => {
  if (raw.trim() === 'auto') return 'auto';
  return integer(1, 1024)(raw, name);
};

const connections = (raw: string, name: string): number | 'auto' => {
  if (raw.trim() === 'auto') return 'auto';
  return integer(1, 100_000_000)(raw, name);
};

export const OPTIONS = {
  PORT: { doc: 'TCP port of the HTTP and WebSocket server.', default: '3000', parse: integer(0, 65535) },
  HOST: { doc: 'Address to listen on. Loopback by default; set 0.0.0.0 behind a load balancer.', default: '127.0.0.1', parse: text },
  DATA_DIR: { doc: 'Directory of the embedded SQLite database (parley.db), used when DATABASE_URL is unset.', default: './data', parse: text },
  DATABASE_URL: { doc: 'PostgreSQL URL (postgres://user@host:5432/db). When set, PostgreSQL replaces the embedded SQLite store.', default: '', parse: postgresUrl },
  DATABASE_POOLER: {
    doc: 'What DATABASE_URL reaches: none (PostgreSQL itself) or pgbouncer (a PgBouncer in transaction or session mode). PgBouncer does not pass statement_timeout as a startup parameter, so it must then be set on the role (ALTER ROLE parley SET statement_timeout = \'5s\'); the client-side query timeout (DATABASE_STATEMENT_TIMEOUT_MS + 1 s) still applies.',
    default: 'none',
    parse: oneOf('none', 'pgbouncer'),
  },
  DATABASE_POOL_SIZE: { doc: 'PostgreSQL connections per process (to the primary, and as many to each replica).', default: '10', parse: integer(1, 500) },
  DATABASE_REPLICA_URLS: {
    doc: 'Read replicas of DATABASE_URL (hot standbys), comma-separated postgres:// URLs. History, threads, member and room lists, public rooms, search and reactions are read from them, except a reader\'s reads until the replica holds that reader\'s own latest writes, and reads asking for a room state (`seen`) the replica has not applied yet: those go to the primary.',
    default: '',
    parse: postgresUrls,
  },
  DATABASE_REPLICA_MAX_LAG_MS: { doc: 'A replica lagging the primary by more than this, ms, leaves the rotation until it catches up.', default: '2000', parse: integer(100, 600_000) },
  DATABASE_REPLICA_PROBE_MS: { doc: 'How often the primary\'s WAL position and each replica\'s replay position are read, ms: the precision of the lag measured.', default: '250', parse: integer(20, 60_000) },
  DATABASE_SHARD_URLS: {
    doc: 'Shards for rooms, comma-separated `name=postgres://…` (a bare URL is named host:port/database; keep a shard\'s name when its address changes). Each room\'s stream (events, messages, members and read markers, search index, reactions, threads, moderation) lives on one shard, chosen by rendezvous hash of the room id when the room is created and recorded in the primary\'s room directory; users, sessions, uploads, notifications, webhooks and jobs stay on DATABASE_URL. Rooms created before stay on the primary. `parley shards move` moves a room.',
    default: '',
    parse: shardUrls,
  },
  DATABASE_SHARD_POOL_SIZE: { doc: 'PostgreSQL connections per process to each shard.', default: '10', parse: integer(1, 500) },
  DATABASE_SHARD_MOVE_POLL_MS: {
    doc: 'How often each process reads the room directory for rooms being moved between shards, ms. A process that has not read it for three times this holds room writes until it has.',
    default: '250',
    parse: integer(20, 10_000),
  },
  DATABASE_SHARD_MOVE_WAIT_MS: { doc: 'Longest a call to a room being moved waits for the move, ms; then it fails with 503 (clients retry).', default: '15000', parse: integer(100, 600_000) },
  DATABASE_STATEMENT_TIMEOUT_MS: { doc: 'PostgreSQL statement_timeout, ms: a query running longer is cancelled and its request fails with 503.', default: '5000', parse: integer(100, 600_000) },
  WORKERS: { doc: 'Worker processes of `parley start` (node:cluster): a number, or auto for one per core. 1 runs without a primary. `--workers` on the command line wins.', default: '1', parse: workers },
  REDIS_URL: { doc: 'Redis URL (redis://host:6379/0). When set: the bus (unless NATS_URL is set), cluster-wide rate limits and presence live in Redis.', default: '', parse: serviceUrl(['redis', 'rediss']) },
  REDIS_SHARDED_PUBSUB: { doc: 'Use sharded pub/sub (SSUBSCRIBE/SPUBLISH, Redis 7) for the bus on one Redis. A Redis Cluster (REDIS_CLUSTER) always uses it.', default: 'false', parse: boolean },
  REDIS_CLUSTER: {
    doc: 'REDIS_URL names a node of a Redis Cluster (the others are discovered): the bus uses sharded pub/sub through a cluster-aware client, so a room\'s events go to the shard owning its channel and reach only the nodes subscribed to it; sessions, cache, rate limits, presence and BullMQ\'s queues (one hash tag per queue) are spread over the masters by slot.',
    default: 'false',
    parse: boolean,
  },
  REDIS_CLUSTER_NODES: {
    doc: 'With REDIS_CLUSTER: more nodes to reach the cluster through (host:port,host:port), besides the one of REDIS_URL, at start and after the cluster was lost altogether: name a few, as any one may be down.',
    default: '',
    parse: hostPorts,
  },
  REDIS_PREFIX: { doc: 'Prefix of every Redis key and channel, so deployments can share a Redis.', default: 'parley:', parse: text },
  REDIS_COMMAND_TIMEOUT_MS: { doc: 'Timeout of one Redis command, ms; past it the command fails (and what needs it answers 503 or degrades).', default: '2000', parse: integer(50, 60_000) },
  CACHE_URL: {
    doc: 'Where sessions and newest history pages are cached, shared by every node: empty for Redis when REDIS_URL is set (else no shared cache), or memcached://host:port[,host:port…] for memcached (keys spread over the servers by hash: every node must name the same servers, in any order, and a change of the list takes effect on every node together, or sessions read on one node may outlive a logout on another for up to a minute).',
    default: '',
    parse: memcachedUrl,
  },
  CACHE_TIMEOUT_MS: { doc: 'With memcached: timeout of one cache call, ms; past it the call fails and the reader goes to the store.', default: '500', parse: integer(50, 60_000) },
  NATS_URL: { doc: 'NATS URL (nats://host:4222). When set, the bus runs over NATS core subjects.', default: '', parse: serviceUrl(['nats', 'tls']) },
  BUS: { doc: 'Bus between processes: auto (NATS_URL, else REDIS_URL, else the cluster primary, else in-process), memory, ipc, redis or nats.', default: 'auto', parse: oneOf('auto', 'memory', 'ipc', 'redis', 'nats') },
  EVENT_LOG: {
    doc: 'Durable event log every committed stream event and the operational events (connections, logins, job outcomes) go to, for consumers with their own offsets (search indexing, analytics): none, or jetstream (NATS JetStream at EVENT_LOG_URL). With none, search indexing follows each room\'s stream in the process that committed to it.',
    default: 'none',
    parse: oneOf('none', 'jetstream'),
  },
  EVENT_LOG_URL: { doc: 'NATS server of the event log (nats://host:4222); empty: NATS_URL.', default: '', parse: serviceUrl(['nats', 'tls']) },
  EVENT_LOG_STREAM: { doc: 'Name of the JetStream stream of the event log (subjects parley.log.>).', default: 'PARLEY_EVENTS', parse: text },
  EVENT_LOG_MAX_AGE_HOURS: { doc: 'How long the event log keeps a record, hours: a consumer (or a replay) further behind than this has lost what aged out.', default: '168', parse: integer(1, 24 * 3650) },
  EVENT_LOG_MAX_BYTES: { doc: 'Largest size of the event log, bytes; past it the oldest records are dropped (see EVENT_LOG_MAX_AGE_HOURS).', default: '10737418240', parse: integer(1_048_576, Number.MAX_SAFE_INTEGER) },
  EVENT_LOG_DUPLICATE_WINDOW_S: { doc: 'How long the event log remembers a record\'s id, seconds: a record appended again within it (the relay repeating a run) is stored once.', default: '120', parse: integer(1, 86_400) },
  EVENT_LOG_TIMEOUT_MS: { doc: 'Timeout of one call to the event log, ms.', default: '5000', parse: integer(100, 60_000) },
  EVENT_LOG_BATCH: { doc: 'Records a consumer of the event log takes at once (and most records of one consumer group out at a time across the deployment).', default: '256', parse: integer(1, 10_000) },
  ANALYTICS: {
    doc: 'Analytics store the `analytics` group of the event log writes to, and the admin analytics reports read: none, or clickhouse (its HTTP interface at ANALYTICS_URL). Needs EVENT_LOG=jetstream.',
    default: 'none',
    parse: oneOf('none', 'clickhouse'),
  },
  ANALYTICS_URL: { doc: 'ClickHouse HTTP interface (http://[user[:password]@]host:8123); credentials are sent in headers.', default: 'http://127.0.0.1:8123', parse: serviceUrl(['http', 'https']) },
  ANALYTICS_DATABASE: { doc: 'ClickHouse database of the analytics tables (made if missing).', default: 'parley', parse: identifierText },
  ANALYTICS_BATCH: { doc: 'Records the analytics consumer writes to ClickHouse at once (ClickHouse wants few, large inserts), and most records of its group out at a time. Each node decodes a batch on its event loop: keep it to a few thousand.', default: '2000', parse: integer(1, 20_000) },
  ANALYTICS_FLUSH_MS: { doc: 'How long the analytics consumer waits for a batch to fill before it writes what it has, ms (under the event log\'s 10 s acknowledgement wait).', default: '1000', parse: integer(5, 5_000) },
  ANALYTICS_TIMEOUT_MS: { doc: 'Timeout of one ClickHouse request, ms.', default: '10000', parse: integer(1000, 300_000) },
  BUS_ENVELOPE_VERSION: {
    doc: 'Version of the bus envelope this node writes: 2 (this release) or 1 (the previous one). Set to 1 only during a rolling upgrade from the previous release, on the upgraded nodes, so nodes not yet upgraded read every message as their own; remove it once every node runs this release (docs/operations.md, "Upgrading"). A node reads both whatever this says.',
    default: '2',
    parse: integer(1, 2),
  },
  NODE_STATUS_INTERVAL_MS: { doc: 'How often each node and each parley worker publishes its status (connections, message and job rates, readiness, memory) on the bus for the admin page, ms; a node not heard from for three intervals is left out.', default: '5000', parse: integer(500, 600_000) },
  BUS_PROBE_INTERVAL_MS: { doc: 'Interval of the end-to-end bus probe, ms: a node that does not receive its own probe within one interval resubscribes, resyncs and is not ready until a probe arrives.', default: '5000', parse: integer(100, 600_000) },
  PRESENCE_TTL_MS: { doc: 'With Redis: how long a connection counts as online without a heartbeat, ms. Users of a crashed node go offline within this time.', default: '60000', parse: integer(1000, 3_600_000) },
  ALLOWED_ORIGINS: { doc: 'Comma-separated browser origins allowed to open WebSockets and to make changes with the session cookie (and * for any). Empty: only the same origin as the Host header. A WebSocket upgrade without Origin (not a browser) is allowed; a change made with the session cookie needs one (403 otherwise).', default: '', parse: origins },
  TRUST_PROXY: { doc: 'Trust X-Forwarded-For/-Proto from a load balancer in front (for per-IP limits and secure cookies).', default: 'false', parse: boolean },
  COOKIE_SECURE: { doc: 'Mark the session cookie Secure (set when served over HTTPS).', default: 'false', parse: boolean },
  SESSION_TTL_HOURS: { doc: 'Lifetime of a session token, hours. An expired token is refused with 401.', default: '720', parse: integer(1, 24 * 365) },
  SCRYPT_COST: { doc: 'scrypt cost N for password hashes, as log2 (17 = 2^17 = 128 MiB, ~0.3 s on one core). Runs on the libuv thread pool, never on the event loop.', default: '17', parse: integer(10, 20) },
  WS_FLUSH_MS: { doc: 'Flush window of outgoing WebSocket frames, ms: frames queued within it leave together in one write per socket. 0 writes at the end of each event-loop turn (the lowest latency); a few ms cut syscalls per delivery under heavy fan-out, and add up to that much latency to every frame (docs/benchmarks.md).', default: '0', parse: integer(0, 50) },
  WS_MAX_PAYLOAD_BYTES: { doc: 'Largest WebSocket frame accepted, bytes; a larger one closes the connection with 1009.', default: '65536', parse: integer(1024, 16 * 1024 * 1024) },
  HTTP_HEADERS_TIMEOUT_MS: {
    doc: 'Deadline for a request line and headers, ms, from the moment the connection opens (on a kept-alive connection, from the first byte of the next request). Past it the connection is closed: with a 400 validation_failed when part of a request came, silently when nothing came (an unused connection a browser opened ahead). At most HTTP_REQUEST_TIMEOUT_MS.',
    default: '10000',
    parse: integer(100, 600_000),
  },
  HTTP_REQUEST_TIMEOUT_MS: {
    doc: 'Deadline for a whole request, headers and body, ms. A client still sending past it gets 400 validation_failed and its connection is closed, so a body trickled a byte at a time holds a connection this long at most. WebSockets are not concerned once upgraded.',
    default: '30000',
    parse: integer(100, 3_600_000),
  },
  HTTP_KEEP_ALIVE_TIMEOUT_MS: {
    doc: 'How long an idle keep-alive connection stays open between requests, ms; then it is closed. Keep it above the idle timeout of a load balancer in front (nginx upstream keepalive: 60 s).',
    default: '72000',
    parse: integer(100, 3_600_000),
  },
  HTTP_MAX_CONNECTIONS: {
    doc: 'Most connections (HTTP and WebSocket) one process holds; one more is answered 503 unavailable with Retry-After and closed. auto: the open-file limit of the process (ulimit -n) minus a tenth of it (at least 128) kept for the database, Redis and files, so a flood of connections can never leave the process without file descriptors; no limit where the open-file limit cannot be read.',
    default: 'auto',
    parse: connections,
  },
  HTTP_BODY_LIMIT_BYTES: { doc: 'Largest REST request body, bytes; a larger one gets 413 payload_too_large.', default: '65536', parse: integer(1024, 16 * 1024 * 1024) },
  MESSAGE_MAX_CHARS: { doc: 'Longest message body, characters (Unicode code points); longer gets validation_failed.', default: '4000', parse: integer(1, 100_000) },
  REACTIONS_PER_MESSAGE_MAX: {
    doc: 'Distinct emoji one message may carry as reactions; a reaction with a new emoji past it gets 409 conflict (details.reason too_many_reactions), while adding to an emoji already there still works.',
    default: '20',
    parse: integer(1, 1_000),
  },
  SEND_RATE_PER_SEC: { doc: 'Sends (messages, edits, deletes) per second per user, refilled continuously; past it a send gets rate_limited with retryAfterMs.', default: '10', parse: integer(1, 100_000) },
  SEND_BURST: { doc: 'Sends a user may make at once before SEND_RATE_PER_SEC applies.', default: '30', parse: integer(1, 100_000) },
  FRAME_RATE_PER_SEC: { doc: 'WebSocket frames per second per connection (any op). A connection past FRAME_BURST frames over this rate is closed with 4008.', default: '50', parse: integer(1, 100_000) },
  FRAME_BURST: { doc: 'Frames a connection may send at once before FRAME_RATE_PER_SEC applies.', default: '200', parse: integer(1, 100_000) },
  PROFILE_RATE_PER_MIN: { doc: 'Profile changes (PATCH /me: display name, status) per minute per user; past it, 429 rate_limited with retryAfterMs.', default: '10', parse: integer(1, 100_000) },
  AUTH_RATE_PER_MIN: { doc: 'Login and register attempts per minute per client IP; past it, 429 rate_limited.', default: '30', parse: integer(1, 100_000) },
  BOTS_PER_USER_MAX: {
    doc: 'Bots one user may own at once (POST /bots, and incoming webhooks that make a bot of their own); past it, 403 forbidden until they delete one. 0: nobody may create bots (existing ones keep working).',
    default: '20',
    parse: integer(0, 10_000),
  },
  MAX_SUBSCRIPTIONS: { doc: 'Rooms one connection may subscribe to; past it, subscribe gets validation_failed.', default: '1000', parse: integer(1, 1_000_000) },
  REPLAY_LIMIT: { doc: 'Most events replayed on subscribe with since; past it the reply says recovered:false and the client pages history over REST.', default: '1000', parse: integer(0, 100_000) },
  SLOW_CONSUMER_BYTES: { doc: 'Bytes a connection may leave unsent once the kernel stops taking them (a client not reading); past it the connection is closed with 4009 and the client resumes later. One event-loop turn may queue up to eight times this for a client that keeps up.', default: '1048576', parse: integer(16 * 1024, 1024 * 1024 * 1024) },
  HEARTBEAT_INTERVAL_MS: { doc: 'Interval of WebSocket pings, ms; a connection that has not answered the previous ping is closed.', default: '30000', parse: integer(100, 600_000) },
  GROUP_COMMIT_MAX_BATCH: { doc: 'Most appends committed in one transaction. Appends arriving while a commit is in flight wait and go together in the next one.', default: '500', parse: integer(1, 10_000) },
  ORDERING_GAP_TIMEOUT_MS: { doc: 'How long a room waits for a missing seq from the bus before fetching it from the store, ms.', default: '200', parse: integer(1, 60_000) },
  SHUTDOWN_TIMEOUT_MS: { doc: 'Deadline for a graceful shutdown, ms; past it the process exits anyway.', default: '10000', parse: integer(100, 600_000) },
  LOG_FORMAT: { doc: 'Log format: json (one JSON object a line, for collectors) or pretty (readable, for a terminal).', default: 'json', parse: oneOf('json', 'pretty') },
  LOG_LEVEL: { doc: 'Log level: fatal, error, warn, info, debug, trace or silent.', default: 'info', parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent') },
  ROOM_RECENT_EVENTS: {
    doc: 'Newest events kept in memory per room open on a node (up to twice this many between trims; about 0.5 KB each). Subscribers resuming with since within them, as after a reconnection storm, cost no store query; older ones are read from the store once per room and seq, shared. An edit or delete drops what precedes its message and its earlier edits, so changed text is always read from the store. Bounded in bytes too: ROOM_RECENT_BYTES, RECENT_EVENTS_TOTAL_BYTES.',
    default: '512',
    parse: integer(0, 100_000),
  },
  ROOM_RECENT_BYTES: {
    doc: 'Bytes of recent events kept in memory per open room, besides ROOM_RECENT_EVENTS: past it the oldest half is dropped (those catch-ups read the store).',
    default: '1048576',
    parse: integer(0, 1024 * 1024 * 1024),
  },
  RECENT_EVENTS_TOTAL_BYTES: {
    doc: 'Bytes of recent events kept in memory by all rooms of one process: past it the rooms used least recently drop theirs (their catch-ups read the store).',
    default: '67108864',
    parse: integer(0, 64 * 1024 * 1024 * 1024),
  },
  MAX_CONNECTIONS_PER_USER: {
    doc: 'WebSocket connections one user may hold on one process; past it the upgrade is refused with 429 rate_limited (Retry-After).',
    default: '32',
    parse: integer(1, 100_000),
  },
  PRESENCE_ANNOUNCE_INTERVAL_MS: {
    doc: 'Least time between two presence announcements of one user by one process, ms: a user whose connections come and go faster is announced once per interval, with their state at its end.',
    default: '2000',
    parse: integer(0, 600_000),
  },
  PRESENCE_BATCH_MS: {
    doc: 'How long a node gathers the presence changes of a room before it sends them, ms: one frame per change that still holds at the end (`presence`), or one frame for all of them (`presence_batch`, for subscribers that ask for it).',
    default: '250',
    parse: integer(0, 60_000),
  },
  PRESENCE_LIST_MAX: {
    doc: 'Largest online list in the reply to a subscribe that asked for presence: batch; past it the reply carries onlineCount only.',
    default: '200',
    parse: integer(0, 1_000_000),
  },
  PRESENCE_FLUSH_MAX: {
    doc: 'Most presence changes of one room a node sends per PRESENCE_BATCH_MS; more wait for the next window (where a user back where they were is dropped). Bounds the presence frames a subscriber gets per second, whatever the room size.',
    default: '100',
    parse: integer(1, 100_000),
  },
  PRESENCE_OFFLINE_GRACE_MS: {
    doc: 'How long a user stays online after their last connection closed, ms: one who reconnects within it (a network blip, a restarted node, a reconnect storm) is never announced offline. 0: offline at once.',
    default: '10000',
    parse: integer(0, 600_000),
  },
  HEAP_SNAPSHOT_DIR: {
    doc: 'Directory where SIGUSR2 writes a heap snapshot of the signalled process (for leak hunting; the process pauses while it writes). Empty: DATA_DIR.',
    default: '',
    parse: text,
  },
  METRICS_TOKEN: {
    doc: 'Bearer token that GET /metrics requires (Prometheus: authorization.credentials). Empty: /metrics answers only requests from loopback, not those relayed by a proxy.',
    default: '',
    parse: text,
  },
  SEARCH_MAX_CANDIDATES: {
    doc: 'Most full-text matches one search examines, newest first, in every room (or the one asked for), hits or not. Past it the search stops and answers the hits found so far with truncated: true; narrowing the search to a room (roomId) walks only that room.',
    default: '10000',
    parse: integer(1, 100_000_000),
  },
  SEARCH_TIMEOUT_MS: {
    doc: 'Deadline of one search, ms, from the moment it is asked (waiting included). Past it the search is stopped inside the database and answered 503 unavailable with Retry-After.',
    default: '2000',
    parse: integer(10, 600_000),
  },
  SEARCH_MAX_CONCURRENT: {
    doc: 'Searches one process runs (or has waiting) at once; past it a search is answered 503 unavailable with Retry-After at once. With PostgreSQL it caps the pool connections searches may hold.',
    default: '4',
    parse: integer(1, 10_000),
  },
  UNREAD_COUNT_CAP: {
    doc: 'GET /rooms counts unread messages exactly up to this many per room; past it the room says unreadCapped: true and unread is this many (clients show "999+"). Each room reads at most 2 × (this + 1) messages after the read marker, so GET /rooms costs time in the number of rooms, never in how far behind the user is; when one\'s own and deleted messages fill more than half of those, the count is capped below this (a lower bound, still unreadCapped).',
    default: '999',
    parse: integer(1, 100_000),
  },
  SQLITE_CACHE_MB: {
    doc: 'Embedded SQLite store: page cache of each of its connections (the writer and the search reader), MiB; it grows only as pages are read. Pages outside it cost a system call each: at 1,000,000 messages the room list took 2.6 ms with SQLite\'s own 2 MiB and 1.0 ms with 64.',
    default: '64',
    parse: integer(2, 65_536),
  },
  SQLITE_THREAD_MAX_QUEUE: {
    doc: 'Embedded SQLite store: most calls waiting for (or running on) one of its threads. Past it a call is refused at once with 503 unavailable (load shedding) instead of queueing behind a slow disk.',
    default: '10000',
    parse: integer(1, 10_000_000),
  },
  SECRET_KEY: {
    doc: 'Server key (at least 32 bytes, as hex or base64) that signs download links and encrypts webhook signing secrets; the same on every node of a deployment. Empty: a key generated once into DATA_DIR/secret.key (enough for one machine; a fleet must set it).',
    default: '',
    parse: text,
  },
  EXPORT_DIR: { doc: 'Directory of history export files. Empty: DATA_DIR/exports. A fleet shares it between nodes (a download may reach any node).', default: '', parse: text },
  EXPORT_TTL_HOURS: { doc: 'How long a finished export is kept, hours; then its file is deleted and its link stops working.', default: '24', parse: integer(1, 24 * 365) },
  EXPORT_PAGE_SIZE: { doc: 'Messages an export reads and renders at a time: bounds its memory (a page is held while it renders).', default: '1000', parse: integer(10, 100_000) },
  RETENTION_DAYS: {
    doc: 'Server-wide retention: messages older than this many days are deleted (tombstoned: gone from history, replay and search). 0 keeps everything. A room may set a shorter policy of its own, never a longer one.',
    default: '0',
    parse: integer(0, 36_500),
  },
  SERVER_AUDIT_RETENTION_DAYS: {
    doc: "How long the server's audit log (every administrator's action) is kept, days; older entries are deleted by the retention job. 0 keeps them for ever.",
    default: '0',
    parse: integer(0, 36_500),
  },
  RETENTION_INTERVAL_MS: { doc: 'How often the retention job runs, ms.', default: '3600000', parse: integer(1000, 7 * 24 * 3_600_000) },
  WEBHOOK_TIMEOUT_MS: { doc: 'Deadline of one webhook delivery (connect, send, answer), ms; past it the attempt failed and is retried with backoff.', default: '10000', parse: integer(100, 120_000) },
  WEBHOOK_ALLOW_PRIVATE: {
    doc: 'Allow webhook endpoints on private, loopback and reserved addresses, and plain http. Off, an endpoint must be https on a public address, checked at registration and at every connection.',
    default: 'false',
    parse: boolean,
  },
  WEBHOOK_ATTEMPTS: {
    doc: 'Attempts to deliver one event to a webhook before the delivery is dead (listed by `parley jobs dead webhook-deliver`). The default, with the default backoff, keeps retrying for about a day, so an endpoint down for less is delivered everything (and one down for longer is disabled first).',
    default: '60',
    parse: integer(1, 1_000),
  },
  WEBHOOK_RETRY_BASE_MS: { doc: 'Backoff before the second attempt of a webhook delivery, ms; it doubles with each attempt (full jitter) up to WEBHOOK_RETRY_MAX_MS.', default: '5000', parse: integer(10, 3_600_000) },
  WEBHOOK_RETRY_MAX_MS: { doc: 'Longest backoff between two attempts of a webhook delivery, ms.', default: '3600000', parse: integer(10, 24 * 3_600_000) },
  WEBHOOK_ENDPOINT_CONCURRENCY: {
    doc: 'Deliveries one webhook endpoint may have in flight in one process (of the 16 delivery slots): a slow or dead endpoint holds no more, so the others keep being delivered; its further deliveries are retried.',
    default: '4',
    parse: integer(1, 16),
  },
  WEBHOOKS_PER_ROOM_MAX: { doc: 'Outgoing webhooks one room may have.', default: '10', parse: integer(1, 1_000) },
  NOTIFY_ROOM_MENTIONS_PER_HOUR: {
    doc: 'How many @room mentions one member may make in one room per hour (a bucket refilling over the hour). Past it an @room notifies nobody; the message itself is sent as usual.',
    default: '5',
    parse: integer(1, 10_000),
  },
  NOTIFY_DIGEST_AFTER_MIN: {
    doc: 'A user with an e-mail address and digests on, offline (no connection) and with mention notifications unread for at least this many minutes, is mailed one digest of them. 0: as soon as the digest sweep sees them.',
    default: '30',
    parse: integer(0, 7 * 24 * 60),
  },
  NOTIFY_DIGEST_INTERVAL_MS: { doc: 'How often the digest sweep looks for users owed a digest, ms.', default: '60000', parse: integer(100, 24 * 3_600_000) },
  NOTIFY_DIGEST_ATTEMPTS: {
    doc: 'Attempts to send one digest (the SMTP server refused or did not answer) before it is dead; retried with exponential backoff from 5 s up to 10 min.',
    default: '20',
    parse: integer(1, 100),
  },
  SMTP_URL: {
    doc: 'SMTP server digests are sent through, such as smtps://user:password@mail.example.com:465 or smtp://127.0.0.1:25. Empty: no e-mail digests.',
    default: '',
    parse: serviceUrl(['smtp', 'smtps']),
  },
  SMTP_FROM: { doc: 'The From of digest e-mails.', default: 'Parley <parley@localhost>', parse: text },
  SMTP_TIMEOUT_MS: { doc: 'Deadline of connecting to the SMTP server and of each of its answers, ms; past it the send failed and is retried.', default: '10000', parse: integer(100, 120_000) },
  PUBLIC_URL: { doc: 'The address users reach Parley at, such as https://chat.example.com: the links of digest e-mails start with it. Empty: http://localhost:PORT.', default: '', parse: baseUrl },
  WEBHOOK_DISABLE_AFTER_HOURS: { doc: 'An endpoint whose every delivery has failed for this long is disabled (its owner enables it again).', default: '24', parse: integer(1, 24 * 365) },
  WEBHOOK_SECRET_GRACE_HOURS: { doc: 'After a secret rotation, how long the previous secret still signs deliveries (a second v1 signature), hours.', default: '24', parse: integer(0, 24 * 30) },
  JOBS: {
    doc: 'Job backend (webhook deliveries, exports, retention): embedded (jobs are rows of the store: SQLite or PostgreSQL, no other service), bullmq (BullMQ on the Redis of REDIS_URL, which must keep its data: noeviction and persistence) or amqp (RabbitMQ at AMQP_URL; idempotency keys and repeat schedules stay in the store).',
    default: 'embedded',
    parse: oneOf('embedded', 'bullmq', 'amqp'),
  },
  AMQP_URL: { doc: 'RabbitMQ URL (amqp://user:password@host:5672/vhost) of JOBS=amqp.', default: '', parse: serviceUrl(['amqp', 'amqps']) },
  AMQP_PREFIX: { doc: 'JOBS=amqp: prefix of every RabbitMQ queue Parley declares (<prefix><queue>, .dead, .delay.<ms>), so deployments can share a broker.', default: 'parley.', parse: text },
  JOBS_WORK: {
    doc: 'Work jobs in this process. false leaves them to `parley worker` processes (which hold no client connections), so the two scale apart.',
    default: 'true',
    parse: boolean,
  },
  JOBS_POLL_MS: {
    doc: 'Embedded job backend: how often each process looks for ready jobs, ms (jobs enqueued by the same process start at once). Bounds how late a delayed job or another process\'s job starts.',
    default: '500',
    parse: integer(10, 60_000),
  },
  JOBS_LEASE_MS: {
    doc: 'A running job\'s lease, ms: its process renews it while the job runs; when the process dies, the job runs again elsewhere once the lease lapses (RabbitMQ redelivers at once instead).',
    default: '30000',
    parse: integer(500, 3_600_000),
  },
  JOBS_KEY_RETENTION_HOURS: {
    doc: 'How long a completed job is remembered, hours: an enqueue with the same idempotency key within it enqueues nothing.',
    default: '24',
    parse: integer(1, 24 * 365),
  },
  WORKER_PORT: {
    doc: '`parley worker` only: TCP port of its probes and metrics (GET /healthz, /readyz, /metrics, as METRICS_TOKEN allows); it serves nothing else. 0 picks a free port.',
    default: '3001',
    parse: integer(0, 65535),
  },
  WORKER_THREADS: {
    doc: 'Threads of the pool that runs CPU work off the event loop (rendering exports and other work over a millisecond). auto: the cores minus one, at least one.',
    default: 'auto',
    parse: workers,
  },
  WORKER_QUEUE_MAX: {
    doc: 'Tasks waiting for a thread of the pool; past it a task is refused with 503 unavailable (its job retries later) instead of queueing without bound.',
    default: '1000',
    parse: integer(1, 1_000_000),
  },
  BREAKER_ERROR_THRESHOLD_PERCENT: {
    doc: 'Circuit breakers (one per dependency: store, redis, bus; one per webhook endpoint): the percent of calls in the rolling window that failed for an outage (unavailable, timed out) past which a breaker opens and refuses calls at once with 503 unavailable (Retry-After) instead of letting them wait for the dependency\'s timeout. Answers such as not_found never count. 100: breakers never open.',
    default: '50',
    parse: integer(1, 100),
  },
  BREAKER_VOLUME_THRESHOLD: {
    doc: 'Calls a breaker must see in its rolling window before it may open, so a quiet process does not open on one or two failures.',
    default: '20',
    parse: integer(1, 1_000_000),
  },
  BREAKER_RESET_MS: {
    doc: 'How long an open breaker refuses calls, ms; then it lets one probe call through: its success closes the breaker, its failure opens it for this long again.',
    default: '5000',
    parse: integer(100, 600_000),
  },
  BREAKER_ROLLING_WINDOW_MS: {
    doc: 'Length of the rolling window over which a breaker counts calls and failures, ms (in ten buckets).',
    default: '10000',
    parse: integer(1000, 600_000),
  },
  BREAKER_MAX_ENDPOINTS: {
    doc: 'Per-endpoint breakers (webhook URLs) one process keeps; past it the least recently used is dropped (a dropped endpoint starts closed again on its next call).',
    default: '1000',
    parse: integer(1, 100_000),
  },
  LOAD_SHED_LAG_MS: {
    doc: 'Load shedding: while the event-loop lag (sampled every 100 ms, smoothed) is at or past this many ms, new REST requests get 503 unavailable with Retry-After and new WebSocket upgrades are accepted and closed with 1013; open WebSockets keep being served, and /healthz, /readyz and /metrics always answer. Shedding stops once the lag stays under half of this for a second. 0: never shed (the lag is still measured).',
    default: '250',
    parse: integer(0, 60_000),
  },
  STARTUP_CONNECT_ATTEMPTS: {
    doc: 'Attempts at start to reach the database (the migration, then a first query on the serving pool), Redis and the bus before giving up and exiting, with exponential backoff and full jitter from 0.5 s doubling to 5 s between them (dependencies starting at the same time as Parley). 1: no retry.',
    default: '5',
    parse: integer(1, 100),
  },
  FILE_STORAGE: {
    doc: 'Where attachments and avatars are kept: fs (files under FILES_DIR on this machine: one node, or a directory every node mounts) or s3 (an S3-compatible bucket: S3_BUCKET at S3_ENDPOINT, shared by every node).',
    default: 'fs',
    parse: oneOf('fs', 's3'),
  },
  FILES_DIR: { doc: 'FILE_STORAGE=fs: the directory of stored files (and of uploads being received, under its tmp/). Empty: DATA_DIR/files.', default: '', parse: text },
  UPLOAD_STAGING_DIR: {
    doc: 'Where this node writes an upload while it is received, sniffed and (for images) processed, before it is stored: local disk, at least UPLOAD_CONCURRENCY × UPLOAD_MAX_BYTES free. Empty: FILES_DIR/tmp with FILE_STORAGE=fs, the system temporary directory with s3.',
    default: '',
    parse: text,
  },
  S3_ENDPOINT: { doc: 'FILE_STORAGE=s3: the endpoint URL of S3-compatible storage (https://s3.eu-west-1.amazonaws.com, http://minio:9000). Empty: AWS S3 of S3_REGION.', default: '', parse: serviceUrl(['https', 'http']) },
  S3_REGION: { doc: 'FILE_STORAGE=s3: the region requests are signed for.', default: 'us-east-1', parse: text },
  S3_BUCKET: { doc: 'FILE_STORAGE=s3: the bucket (created beforehand; Parley writes under files/ and avatars/ in it).', default: '', parse: text },
  S3_ACCESS_KEY_ID: { doc: 'FILE_STORAGE=s3: access key id. Empty: the AWS SDK\'s default credential chain (environment, instance role).', default: '', parse: text },
  S3_SECRET_ACCESS_KEY: { doc: 'FILE_STORAGE=s3: secret access key, with S3_ACCESS_KEY_ID.', default: '', parse: text },
  S3_FORCE_PATH_STYLE: { doc: 'FILE_STORAGE=s3: address the bucket in the path (http://host/bucket/key), as most S3-compatible servers want, rather than as a host name.', default: 'true', parse: boolean },
  S3_PART_SIZE_MB: { doc: 'FILE_STORAGE=s3: files larger than this go up as a multipart upload in parts of this size, MiB (S3 needs at least 5); one part is read from disk at a time.', default: '16', parse: integer(5, 512) },
  S3_TIMEOUT_MS: { doc: 'FILE_STORAGE=s3: deadline to connect, and most time a request may go without progress, ms; past it the call fails as unavailable (and counts against the storage breaker).', default: '15000', parse: integer(100, 600_000) },
  UPLOAD_MAX_BYTES: { doc: 'Largest file one upload may be, bytes; a larger one is refused with 413 payload_too_large as soon as it passes the size (nothing is stored).', default: '104857600', parse: integer(1, 5 * 1024 * 1024 * 1024) },
  UPLOAD_MAX_FILES_PER_MESSAGE: { doc: 'Attachments one message may carry.', default: '10', parse: integer(1, 100) },
  UPLOAD_DAILY_BYTES: { doc: 'Bytes one user may upload in 24 hours (attachments and avatars, kept or not); past it uploads are refused with 429 rate_limited until older ones leave the window. 0: no limit.', default: '1073741824', parse: integer(0, Number.MAX_SAFE_INTEGER) },
  UPLOAD_TYPES: {
    doc: 'The content types an upload may be, comma-separated, decided by sniffing its bytes (never by its name or Content-Type): a type ending in /* allows its whole family. Text without a recognisable binary signature is text/plain, and text that reads as HTML, SVG or XML is text/html, image/svg+xml or application/xml: leave those out so nothing active is ever stored. Unrecognised binaries are application/octet-stream.',
    default: 'image/png,image/jpeg,image/gif,image/webp,image/avif,application/pdf,text/plain,application/json,application/zip,application/gzip,application/x-7z-compressed,application/x-tar,audio/*,video/mp4,video/webm,video/quicktime,application/vnd.openxmlformats-officedocument.wordprocessingml.document,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,application/vnd.openxmlformats-officedocument.presentationml.presentation,application/vnd.oasis.opendocument.text,application/vnd.oasis.opendocument.spreadsheet,application/vnd.oasis.opendocument.presentation,application/msword,application/vnd.ms-excel,application/x-cfb',
    parse: (raw: string) => raw.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== ''),
  },
  UPLOAD_CONCURRENCY: { doc: 'Uploads one node receives at once; one more is refused with 503 unavailable (Retry-After) until one ends. Bounds the node\'s open files, staging disk and image work.', default: '32', parse: integer(1, 10_000) },
  UPLOAD_IDLE_TIMEOUT_MS: { doc: 'An upload whose sender sends nothing for this long is abandoned (its staged bytes deleted), ms.', default: '30000', parse: integer(100, 600_000) },
  UPLOAD_UNATTACHED_HOURS: { doc: 'An upload not attached to a message within this many hours is deleted by the files sweep job (direct uploads never confirmed too).', default: '24', parse: integer(1, 24 * 365) },
  IMAGE_MAX_PIXELS: { doc: 'Images with more pixels than this (width × height, from the header, before any decoding) are refused with 413: a decompression bomb never reaches memory.', default: '50000000', parse: integer(1, 1_000_000_000) },
  IMAGE_THUMBNAIL_PX: { doc: 'Longest side of the thumbnail made for each image, pixels.', default: '480', parse: integer(32, 4096) },
  FILE_URL_TTL_S: { doc: 'Lifetime of a signed file link (GET /files/:id/link, and the presigned S3 PUT of a direct upload), seconds. Membership is checked again on every read through the server, whatever the link\'s age.', default: '300', parse: integer(10, 7 * 24 * 3600) },
  ASSET_BASE_URL: { doc: 'Origin (and path) the web page loads its hashed assets from, such as https://cdn.example.com/parley: the page names <that>/assets/<name>, for a CDN that pulls /assets/ from the nodes (which then answer with Access-Control-Allow-Origin: *, as module scripts from another origin need CORS). Empty: the node itself. The page\'s CSP allows it.', default: '', parse: baseUrl },
  WEB_DIR: { doc: 'Directory of the built web client served at /. Empty: the one shipped in web/dist.', default: '', parse: text },
} satisfies Record<string, Option<unknown>>;

type Options = typeof OPTIONS;
export type Config = { [K in keyof Options]: ReturnType<Options[K]['parse']> };

/**
 * Variables of the test suite and the benchmarks: read by them, never by the server, and
 * passed through to it by the processes they start.
 */
const FOREIGN_PREFIXES = ['PARLEY_TEST_', 'PARLEY_BENCH_'];

/** Edit distance, for suggesting the option a misspelt variable meant. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The option an unknown variable probably meant, or null when none is close. */
export function suggestOption(name: string): string | null {
  const bare = name.replace(/^PARLEY_/, '');
  if (bare in OPTIONS) return bare;
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const option of Object.keys(OPTIONS)) {
    const d = distance(bare, option);
    if (d < bestDistance) [best, bestDistance] = [option, d];
  }
  return bestDistance <= Math.max(2, Math.floor(bare.length / 4)) ? best : null;
}

/**
 * A PARLEY_* variable is meant for Parley, but Parley reads none (its options have no prefix):
 * ignoring it would run with a setting the operator believes is set (PARLEY_DATA_DIR once put
 * the database in ./data). Refused at start, naming the option it probably meant.
 */
function refuseUnknownParleyVariables(env: Env): void {
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('PARLEY_') || FOREIGN_PREFIXES.some((p) => name.startsWith(p))) continue;
    const suggestion = suggestOption(name);
    const hint = suggestion === null ? 'see `parley --help` for the variables it reads' : `did you mean ${suggestion}?`;
    throw new ConfigError(`${name} is not a Parley setting (Parley's variables have no PARLEY_ prefix): ${hint}`);
  }
}

/** Reads and validates every option. Throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Config {
  refuseUnknownParleyVariables(env);
  const out: Record<string, unknown> = {};
  for (const [name, option] of Object.entries(OPTIONS) as Array<[string, Option<unknown>]>) {
    const raw = env[name];
    out[name] = option.parse(raw === undefined ? option.default : raw, name);
  }
  const config = out as Config;
  if (config.DATABASE_REPLICA_URLS.length > 0 && config.DATABASE_URL === '') throw new ConfigError('DATABASE_REPLICA_URLS needs DATABASE_URL: replicas are of a PostgreSQL primary.');
  if (config.DATABASE_SHARD_URLS.length > 0 && config.DATABASE_URL === '') throw new ConfigError('DATABASE_SHARD_URLS needs DATABASE_URL: the primary holds users, sessions and the room directory.');
  if (config.DATABASE_SHARD_URLS.length > 0 && config.DATABASE_REPLICA_URLS.length > 0) {
    throw new ConfigError('DATABASE_SHARD_URLS and DATABASE_REPLICA_URLS together are not supported yet: choose one.');
  }
  if (config.JOBS === 'amqp' && config.AMQP_URL === '') throw new ConfigError('JOBS=amqp needs AMQP_URL (amqp://user:password@host:5672).');
  if (config.FILE_STORAGE === 's3' && config.S3_BUCKET === '') throw new ConfigError('FILE_STORAGE=s3 needs S3_BUCKET (and S3_ENDPOINT for storage other than AWS).');
  if (config.JOBS === 'bullmq' && config.REDIS_URL === '') throw new ConfigError('JOBS=bullmq needs REDIS_URL (redis://host:6379).');
  if (config.ANALYTICS !== 'none' && config.EVENT_LOG === 'none') throw new ConfigError('ANALYTICS=clickhouse needs EVENT_LOG=jetstream: analytics is a consumer of the event log.');
  if (config.EVENT_LOG === 'jetstream' && config.EVENT_LOG_URL === '' && config.NATS_URL === '') throw new ConfigError('EVENT_LOG=jetstream needs EVENT_LOG_URL or NATS_URL (nats://host:4222).');
  if (config.REDIS_CLUSTER && config.REDIS_URL === '') throw new ConfigError('REDIS_CLUSTER needs REDIS_URL, naming a node of the cluster (redis://host:6379).');
  // Node refuses a header deadline past the request deadline; say so in the operator's terms.
  if (config.HTTP_HEADERS_TIMEOUT_MS > config.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError(`HTTP_HEADERS_TIMEOUT_MS (${config.HTTP_HEADERS_TIMEOUT_MS}) must not exceed HTTP_REQUEST_TIMEOUT_MS (${config.HTTP_REQUEST_TIMEOUT_MS}).`);
  }
  config.DATA_DIR = path.resolve(config.DATA_DIR);
  return config;
}

/** The config with defaults, for tests: overrides win. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  // Tests see a user offline the moment their last connection closes unless they ask for a grace.
  // Nor do they shed load unless they ask: a shared test machine lags, and a test expecting an
  // answer must not get 503 for it. And a dependency down at start fails the start at once.
  return { ...loadConfig({}), SCRYPT_COST: 10, LOG_LEVEL: 'silent', PRESENCE_OFFLINE_GRACE_MS: 0, LOAD_SHED_LAG_MS: 0, STARTUP_CONNECT_ATTEMPTS: 1, ...overrides };
}
