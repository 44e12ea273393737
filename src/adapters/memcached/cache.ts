/**
 * The cache in memcached, for deployments that run it for cache-aside reads instead of Redis.
 * Shared by every node like RedisCache, with the same promises: while memcached is down every
 * call rejects with `unavailable` (readers skip the cache; an invalidation that cannot be made
 * fails its request, so nothing revoked stays cached behind a success), and every call ends
 * within `timeoutMs` whatever the socket does.
 *
 * memcached keeps whole seconds of expiry; the cache contract keeps milliseconds. Each value is
 * stored with the time it expires (`<epoch ms>:<value>`) and read as absent from then on;
 * memcached's own expiry, a second or so later, only frees the memory.
 */
import { createHash } from 'node:crypto';
import memjs from 'memjs';
import { unavailable } from '../../errors.js';
import type { Cache } from '../../ports.js';
import { type CallGuard, isMemcachedOutage, translateOutage, unguarded } from '../outage.js';

/** memcached's key limit is 250 bytes: longer keys are stood for by their hash. */
const MAX_KEY_BYTES = 200;
const OUTAGE = 'The cache is unavailable; retry shortly.';

export interface MemcachedCacheOptions {
  /** Prepended to every key, so deployments can share a memcached. */
  prefix: string;
  /** Longest wait for one call, in ms. */
  timeoutMs: number;
  guard?: CallGuard;
}

/** Only printable ASCII, no space: what every memcached protocol takes in a key as it is. */
function isPrintableAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

export class MemcachedCache implements Cache {
  readonly #client: memjs.Client;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #guard: CallGuard;

  /** `servers`: host:port of each server (see memcachedServers in config.ts); keys spread over them by hash. */
  constructor(servers: string[], options: MemcachedCacheOptions) {
    this.#prefix = `${options.prefix}cache:`;
    this.#timeoutMs = options.timeoutMs;
    this.#guard = options.guard ?? unguarded;
    const seconds = options.timeoutMs / 1000;
    this.#client = memjs.Client.create(servers.join(','), {
      timeout: seconds,
      conntimeout: seconds,
      // One try: a retry would outlast the caller's wait, and the breaker decides about outages.
      retries: 0,
      keepAlive: true,
      // Failures reach the caller as rejections; memjs would also print them.
      logger: { log: () => undefined },
    });
  }

  async get(key: string): Promise<string | undefined> {
    const { value } = await this.#call('get', () => this.#client.get(this.#key(key)));
    if (value === null) return undefined;
    const text = value.toString('utf8');
    const colon = text.indexOf(':');
    const expiresAt = Number(text.slice(0, colon));
    // A value not written by this adapter (or expired) reads as absent.
    if (colon < 1 || !Number.isSafeInteger(expiresAt) || Date.now() >= expiresAt) return undefined;
    return text.slice(colon + 1);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    const ms = Math.max(1, Math.round(ttlMs));
    const stored = await this.#call('set', () => this.#client.set(this.#key(key), `${Date.now() + ms}:${value}`, { expires: Math.ceil(ms / 1000) + 1 }));
    if (!stored) throw new Error('memcached did not store the value');
  }

  async delete(keys: string[]): Promise<void> {
    // memcached has no multi-key delete: one request per key, sent together on the connection.
    await Promise.all(keys.map((k) => this.#call('delete', () => this.#client.delete(this.#key(k)))));
  }

  close(): void {
    this.#client.close();
  }

  #key(key: string): string {
    const full = this.#prefix + key;
    if (full.length <= MAX_KEY_BYTES && isPrintableAscii(full)) return full;
    return `${this.#prefix}#${createHash('sha256').update(key).digest('base64url')}`;
  }

  /** One command, through the breaker, never longer than the timeout; outages become `unavailable`. */
  #call<T>(what: string, command: () => Promise<T>): Promise<T> {
    return this.#guard(async () => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(unavailable(`${OUTAGE} (memcached ${what} timed out)`)), this.#timeoutMs + 50);
      });
      try {
        return await Promise.race([command(), timeout]);
      } catch (error) {
        throw translateOutage(error, isMemcachedOutage, OUTAGE);
      } finally {
        clearTimeout(timer);
      }
    });
  }
}
