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
 *
 * Around memjs: a call that timed out or lost its socket replaces the whole client (memjs keeps
 * the dead socket's deadlines and can orphan a socket after its own timeout), and its request
 * counter wraps within the 31 bits its header writer takes (memjs' own wrap goes negative after
 * 2^31 requests and every later call throws).
 */
import { createHash } from 'node:crypto';
import memjs from 'memjs';
import { unavailable } from '../../errors.js';
import type { Cache } from '../../ports.js';
import { type CallGuard, isMemcachedOutage, translateOutage, unguarded } from '../outage.js';

/** memcached's key limit is 250 bytes: longer keys are stood for by their hash. */
const MAX_KEY_BYTES = 200;
/** memcached's default item limit is 1 MiB with its own overhead: a larger value is not cached. */
const MAX_VALUE_BYTES = 1_000_000;
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

/** memjs' request counter, kept within 31 bits so its header's unsigned write never sees a negative. */
export function boundRequestCounter(client: memjs.Client): memjs.Client {
  const counted = client as unknown as { seq: number; incrSeq: () => void };
  counted.incrSeq = function incrSeq(this: { seq: number }) {
    this.seq = (this.seq + 1) % 0x80000000;
  };
  return client;
}

export class MemcachedCache implements Cache {
  #client: memjs.Client;
  readonly #open: () => memjs.Client;
  #closed = false;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #guard: CallGuard;

  /** `servers`: host:port of each server (see memcachedServers in config.ts); keys spread over them by hash. */
  constructor(servers: string[], options: MemcachedCacheOptions) {
    this.#prefix = `${options.prefix}cache:`;
    this.#timeoutMs = options.timeoutMs;
    this.#guard = options.guard ?? unguarded;
    const seconds = options.timeoutMs / 1000;
    const list = servers.join(',');
    this.#open = () =>
      boundRequestCounter(
        memjs.Client.create(list, {
          timeout: seconds,
          conntimeout: seconds,
          // One try: a retry would outlast the caller's wait, and the breaker decides about outages.
          retries: 0,
          keepAlive: true,
          // Failures reach the caller as rejections; memjs would also print them.
          logger: { log: () => undefined },
        }),
      );
    this.#client = this.#open();
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
    const stored = `${Date.now() + ms}:${value}`;
    if (Buffer.byteLength(stored) > MAX_VALUE_BYTES) {
      // Too large for an item: not cached, and no older value left under the key either.
      await this.delete([key]);
      return;
    }
    const done = await this.#call('set', () => this.#client.set(this.#key(key), stored, { expires: Math.ceil(ms / 1000) + 1 }));
    if (!done) throw new Error('memcached did not store the value');
  }

  async delete(keys: string[]): Promise<void> {
    // memcached has no multi-key delete: one request per key, sent together on the connection.
    await Promise.all(keys.map((k) => this.#call('delete', () => this.#client.delete(this.#key(k)))));
  }

  close(): void {
    this.#closed = true;
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
      if (this.#closed) throw unavailable(`${OUTAGE} (the cache is closed)`);
      const client = this.#client;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(unavailable(`${OUTAGE} (memcached ${what} timed out)`)), this.#timeoutMs + 50);
      });
      try {
        return await Promise.race([command(), timeout]);
      } catch (error) {
        if (isMemcachedOutage(error)) this.#replace(client);
        throw translateOutage(error, isMemcachedOutage, OUTAGE);
      } finally {
        clearTimeout(timer);
      }
    });
  }

  /** After an outage, the next call starts on a fresh client (once, whichever call saw it first). */
  #replace(failed: memjs.Client): void {
    if (this.#closed || this.#client !== failed) return;
    this.#client = this.#open();
    failed.close();
  }
}
