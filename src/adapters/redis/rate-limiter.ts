/**
 * Cluster-wide rate limits in Redis (rate-limiter-flexible): every node of a deployment draws
 * from the same counters, so a user cannot multiply their allowance by spreading requests over
 * nodes. A token bucket of `ratePerSec` and `burst` is approximated by two windows: `ratePerSec`
 * points per second, and past them a reserve of `burst - ratePerSec` points refilled over
 * `burst / ratePerSec` seconds.
 *
 * A Redis outage degrades this limiter, deliberately, instead of failing sends and logins:
 * while Redis is not ready, or a command fails or times out, or the Redis breaker (`guard`)
 * refuses the call, each process counts in its own in-memory limiter of the same rule, so
 * limits still hold per process (a user spread over N processes gets up to N times the
 * allowance until Redis is back). Only an outage degrades it; any other error is a bug and is
 * thrown.
 */
import type { Cluster, Redis } from 'ioredis';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { BucketRule } from '../../core/token-bucket.js';
import { AppError } from '../../errors.js';
import type { RateLimiter } from '../../ports.js';
import { type CallGuard, isRedisOutage, translateOutage, unguarded } from '../outage.js';

type Limiter = BurstyRateLimiter | RateLimiterRedis | RateLimiterMemory;
type Decision = { allowed: true } | { allowed: false; retryAfterMs: number };

export class RedisRateLimiter implements RateLimiter {
  readonly #limiter: Limiter;
  /** The same rule counted in this process, while Redis cannot answer. */
  readonly #local: Limiter;
  readonly #guard: CallGuard;

  constructor(redis: Redis | Cluster, name: string, rule: BucketRule, options: { prefix: string; guard?: CallGuard }) {
    this.#guard = options.guard ?? unguarded;
    // Windows are whole seconds: a rate below 1/s becomes "points per window of 1/rate s".
    const perWindow = Math.max(1, Math.floor(rule.ratePerSec));
    const windowSec = Math.max(1, Math.round(perWindow / rule.ratePerSec));
    const steady = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${options.prefix}rl:${name}`, points: perWindow, duration: windowSec, rejectIfRedisNotReady: true });
    const localSteady = new RateLimiterMemory({ keyPrefix: `${name}-local`, points: perWindow, duration: windowSec });
    const reserve = rule.burst - perWindow;
    if (reserve <= 0) {
      this.#limiter = steady;
      this.#local = localSteady;
      return;
    }
    const reserveSec = Math.max(1, Math.round(rule.burst / rule.ratePerSec));
    this.#limiter = new BurstyRateLimiter(
      steady,
      new RateLimiterRedis({ storeClient: redis, keyPrefix: `${options.prefix}rl:${name}:burst`, points: reserve, duration: reserveSec, rejectIfRedisNotReady: true }),
    );
    this.#local = new BurstyRateLimiter(localSteady, new RateLimiterMemory({ keyPrefix: `${name}-local-burst`, points: reserve, duration: reserveSec }));
  }

  async consume(key: string): Promise<Decision> {
    try {
      return await decide(this.#guard(() => this.#limiter.consume(key).catch(asOutage)));
    } catch (error) {
      if (error instanceof AppError && error.code === 'unavailable') return decide(this.#local.consume(key));
      throw error;
    }
  }
}

/** A refusal of the limiter is an answer; an outage of Redis becomes `unavailable`; anything else stays what it is. */
function asOutage(rejection: unknown): never {
  if (rejection instanceof RateLimiterRes) throw rejection;
  throw translateOutage(rejection, isRedisOutage, 'The rate limit could not be checked; retry shortly.');
}

async function decide(consumed: Promise<unknown>): Promise<Decision> {
  try {
    await consumed;
    return { allowed: true };
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return { allowed: false, retryAfterMs: Math.max(1, rejection.msBeforeNext) };
    throw rejection;
  }
}
