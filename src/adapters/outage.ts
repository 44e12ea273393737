/**
 * Which errors of a dependency mean "it is down, restarting, overloaded or unreachable: retry
 * later". Adapters translate those into the domain's `unavailable` (503 with Retry-After, a
 * WebSocket reply clients retry), so an outage never reaches a client as `internal`; anything
 * else (SQL syntax, an unexpected constraint, a wrong Redis command) is a bug, stays what it
 * is, and is answered `internal` and logged.
 *
 * Pure: no I/O here, so each rule is unit-tested (test/adapters/outage.test.ts) without
 * breaking a real server.
 */
import { AppError, unavailable } from '../errors.js';

/** Reports the health of one client connection (or pool) to whoever logs it. */
export interface ConnectionMonitor {
  /**
   * The peer is gone, a connection attempt failed, or a call failed because of that.
   * `startedAt` (epoch ms), for a failed call: a call that started before the connection was
   * last restored failed in the outage that already ended, and opens no new one.
   */
  lost(error: unknown, startedAt?: number): void;
  /** The connection works again. */
  restored(): void;
}

/**
 * Runs one call to a dependency, or refuses it at once with `unavailable`: a circuit breaker
 * (src/resilience/breaker.ts), given to adapters by the composition root. An adapter that keeps
 * state of its own around a call takes one instead of being decorated, so a refused call still
 * updates that state.
 */
export type CallGuard = <T>(call: () => Promise<T>) => Promise<T>;

/** No breaker: every call goes through. */
export const unguarded: CallGuard = (call) => call();

/** Socket errors: the peer is down, restarting or unreachable. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN']);

/** Bounds the walk through causes: a cyclic or absurdly deep chain is not an outage signal. */
const MAX_CHAIN = 8;

/**
 * The error and what it wraps: its `cause` chain and the members of an AggregateError (Node
 * tries each address of a host name and reports every refusal together).
 */
function chain(error: unknown): unknown[] {
  const out: unknown[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && out.length < MAX_CHAIN) {
    const e = queue.shift();
    if (e === null || e === undefined || out.includes(e)) continue;
    out.push(e);
    if (typeof e !== 'object') continue;
    const { cause, errors } = e as { cause?: unknown; errors?: unknown };
    if (cause !== undefined) queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return out;
}

const field = (e: unknown, name: 'code' | 'message' | 'name'): string => {
  const value = typeof e === 'object' && e !== null ? (e as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' ? value : '';
};

const isUnavailableError = (e: unknown): boolean => e instanceof AppError && e.code === 'unavailable';

/** A socket-level failure (refused, reset, broken pipe, timed out, unreachable). */
export function isNetworkOutage(error: unknown): boolean {
  return chain(error).some((e) => NETWORK_CODES.has(field(e, 'code')));
}

/**
 * SQLSTATE classes that say the server cannot serve now: 08 connection exception, 53
 * insufficient resources (too many connections, disk full), 57 operator intervention (admin
 * shutdown, crash shutdown, "the database system is starting up", and 57014: a statement
 * cancelled by statement_timeout), 58 system error (I/O).
 */
const PG_CLASSES = new Set(['08', '53', '57', '58']);
/** Serialization failure and deadlock: the transaction was rolled back; retrying it is safe. */
const PG_CODES = new Set(['40001', '40P01']);
/** node-postgres and pg-pool report these without a code. */
const PG_MESSAGES = [
  /^Connection terminated/, // unexpectedly, or due to connection timeout (pg-pool's connectionTimeoutMillis)
  /^timeout exceeded when trying to connect$/, // pg-pool: no connection free within connectionTimeoutMillis
  /^Query read timeout$/, // the client-side query_timeout
  /is not queryable$/, // a client whose connection died, or was closed by shutdown
  /^Cannot use a pool after calling end on the pool$/, // a request that raced shutdown
];
const SQLSTATE = /^[0-9A-Z]{5}$/;

/** A pooler that takes no startup parameters, reached as if it were PostgreSQL: a setting to fix, not an outage. */
const PG_MISCONFIGURED = /^unsupported startup parameter/;

export function isPostgresOutage(error: unknown): boolean {
  if (chain(error).some((e) => PG_MISCONFIGURED.test(field(e, 'message')))) return false;
  return chain(error).some((e) => {
    if (isUnavailableError(e)) return true;
    const code = field(e, 'code');
    if (NETWORK_CODES.has(code)) return true;
    if (SQLSTATE.test(code) && (PG_CLASSES.has(code.slice(0, 2)) || PG_CODES.has(code))) return true;
    const message = field(e, 'message');
    return PG_MESSAGES.some((m) => m.test(message));
  });
}

/**
 * What kind of PostgreSQL failure `error` is (through its causes): the connection (refused,
 * reset, terminated, the server shutting down or starting), a statement cancelled (its
 * statement_timeout or the client's query timeout), a conflict (a serialization failure or
 * deadlock; on a standby, a query cancelled by a conflict with replay), or something else (no
 * connection free in the pool, resources exhausted, not an outage at all).
 */
export function postgresFailureKind(error: unknown): 'connection' | 'cancelled' | 'conflict' | 'other' {
  const errors = chain(error);
  const codes = errors.map((e) => field(e, 'code'));
  const messages = errors.map((e) => field(e, 'message'));
  if (codes.some((c) => NETWORK_CODES.has(c) || c.startsWith('08') || c === '57P01' || c === '57P02' || c === '57P03')) return 'connection';
  if (messages.some((m) => /^Connection terminated unexpectedly/.test(m) || /is not queryable$/.test(m))) return 'connection';
  if (codes.includes('57014') || messages.some((m) => /^Query read timeout$/.test(m))) return 'cancelled';
  if (codes.includes('40001') || codes.includes('40P01')) return 'conflict';
  return 'other';
}

/**
 * SQLite result codes (better-sqlite3 puts the extended code in `code`) that mean the file is
 * busy, locked, out of space or failing, not that the statement is wrong.
 */
const SQLITE_FAMILIES = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_CANTOPEN', 'SQLITE_NOMEM', 'SQLITE_PROTOCOL'];
const SQLITE_CODES = new Set(['SQLITE_READONLY_RECOVERY', 'SQLITE_READONLY_CANTLOCK', 'SQLITE_READONLY_CANTINIT']);

export function isSqliteOutage(error: unknown): boolean {
  return chain(error).some((e) => {
    if (isUnavailableError(e)) return true;
    const code = field(e, 'code');
    if (SQLITE_CODES.has(code) || SQLITE_FAMILIES.some((f) => code === f || code.startsWith(`${f}_`))) return true;
    // better-sqlite3, for a call that raced the connection's close at shutdown.
    return field(e, 'message') === 'The database connection is not open';
  });
}

/** ioredis' own messages for a command that could not be sent or answered. */
const REDIS_MESSAGES = new Set([
  'Connection is closed.',
  'Command timed out',
  "Stream isn't writeable and enableOfflineQueue options is false",
  'Command aborted due to connection close',
  // rate-limiter-flexible's, with rejectIfRedisNotReady: the client is not connected.
  'Redis connection is not ready',
  // ioredis Cluster: not connected (yet, or again), or given up on.
  "Cluster isn't ready and enableOfflineQueue options is false",
  'Cluster is ended.',
  'None of startup nodes is available',
]);
/** ioredis Cluster messages that start so: a failover moving slots, a subscriber not there yet. */
const REDIS_MESSAGE_PREFIXES = ['Too many Cluster redirections', 'No sharded subscriber for slot'];
const REDIS_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);
/** Server replies that say "not now": loading, failing over, out of memory, scripts busy. */
const REDIS_REPLY_PREFIXES = ['LOADING ', 'BUSY ', 'MASTERDOWN ', 'TRYAGAIN ', 'CLUSTERDOWN ', 'READONLY ', 'OOM ', 'NOREPLICAS ', 'MISCONF '];

/** memjs' own messages for a server it cannot reach or that stopped answering; server replies that say "not now". */
const MEMCACHED_MESSAGES = [/^socket timed out /, /^No servers available$/, /^MemJS \w+: (Out of memory|Busy|Temporary failure)$/];

export function isMemcachedOutage(error: unknown): boolean {
  return chain(error).some((e) => {
    if (isUnavailableError(e)) return true;
    if (NETWORK_CODES.has(field(e, 'code'))) return true;
    const message = field(e, 'message');
    return MEMCACHED_MESSAGES.some((m) => m.test(message));
  });
}

export function isRedisOutage(error: unknown): boolean {
  return chain(error).some((e) => {
    if (isUnavailableError(e)) return true;
    if (NETWORK_CODES.has(field(e, 'code'))) return true;
    if (REDIS_NAMES.has(field(e, 'name'))) return true;
    const message = field(e, 'message');
    return REDIS_MESSAGES.has(message) || REDIS_REPLY_PREFIXES.some((p) => message.startsWith(p)) || REDIS_MESSAGE_PREFIXES.some((p) => message.startsWith(p));
  });
}

/**
 * AMQP reply codes (amqplib puts them in `code`) that say the broker cannot serve now: 320
 * connection-forced (the broker is shutting down, or an operator closed the connection), 506
 * resource-error (out of a resource), 541 internal-error. The others (403 access refused, 404
 * not found, 406 precondition failed, 530 not allowed...) answer a wrong request: a bug.
 */
const AMQP_CODES = new Set([320, 506, 541]);
/** amqplib's own messages for a call that could not be sent or answered: the channel or connection went. */
const AMQP_MESSAGES = [
  /^Channel clos(ed|ing)$/, // IllegalOperationError: a call on a channel that closed (with its connection)
  /^Connection clos(ing|ed \()/, // IllegalOperationError: a call on a connection that closed
  /^channel closed$/, // a publish whose confirm was pending when its channel closed
  /^Channel ended, no reply will be forthcoming$/,
  /^Heartbeat timeout$/,
  /^Unexpected close$/,
  /^Socket closed abruptly during opening handshake$/,
  /^connect ETIMEDOUT$/, // amqplib's connect timeout, without a code
  /^message nacked$/, // the broker refused to take a publish (an internal failure)
];

export function isAmqpOutage(error: unknown): boolean {
  return chain(error).some((e) => {
    if (isUnavailableError(e)) return true;
    if (NETWORK_CODES.has(field(e, 'code'))) return true;
    const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
    if (typeof code === 'number' && AMQP_CODES.has(code)) return true;
    const message = field(e, 'message');
    return AMQP_MESSAGES.some((m) => m.test(message));
  });
}

/**
 * `error` as the domain sees it: an outage becomes `unavailable` (the original kept as its
 * `cause`, for the logs); anything else comes back unchanged.
 */
export function translateOutage(error: unknown, isOutage: (error: unknown) => boolean, message: string): unknown {
  if (error instanceof AppError || !isOutage(error)) return error;
  const translated = unavailable(message);
  translated.cause = error;
  return translated;
}
