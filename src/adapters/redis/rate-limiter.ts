/**
 * Cluster-wide rate limits in Redis (rate-limiter-flexible): every node of a deployment draws
 * from the same counters, so a user cannot multiply their allowance by spreading requests over
 * nodes. A token bucket of `ratePerSec` and `burst` is approximated by two windows: `ratePerSec`
 * points per second, and past them a reserve of `burst - ratePerSec` points refilled over
 * `burst / ratePerSec` seconds.
 *
 * A Redis outage degrades this limiter, deliberately, instead of failing sends and logins:
 * while Redis is not ready, or a command fails or times out, each process counts in its own
 * in-memory limiter of the same rule (the insurance limiter), so limits still hold per process
 * (a user spread over N processes gets up to N times the allowance until Redis is back). A
 * limit that could not be checked at all would reject with `unavailable`.
 */
import type { Redis } from 'ioredis';
import { BurstyRateLimiter, RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { BucketRule } from '../../core/token-bucket.js';
import type { RateLimiter } from '../../ports.js';
import { isRedisOutage, translateOutage } from '../outage.js';

export class RedisRateLimiter implements RateLimiter {
  readonly #limiter: BurstyRateLimiter | RateLimiterRedis;

  constructor(redis: Redis, name: string, rule: BucketRule, options: { prefix: string; timeoutMs: number }) {
    // Windows are whole seconds: a rate below 1/s becomes "points per window of 1/rate s".
    const perWindow = Math.max(1, Math.floor(rule.ratePerSec));
    const windowSec = Math.max(1, Math.round(perWindow / rule.ratePerSec));
    const steady = new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: `${options.prefix}rl:${name}`,
      points: perWindow,
      duration: windowSec,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${name}-insurance`, points: perWindow, duration: windowSec }),
    });
    const reserve = rule.burst - perWindow;
    if (reserve <= 0) {
      this.#limiter = steady;
      return;
    }
    const reserveSec = Math.max(1, Math.round(rule.burst / rule.ratePerSec));
    this.#limiter = new BurstyRateLimiter(
      steady,
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${options.prefix}rl:${name}:burst`,
        points: reserve,
        duration: reserveSec,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: `${name}-burst-insurance`, points: reserve, duration: reserveSec }),
      }),
    );
  }

  async consume(key: string): Promise<{ allowed: true } | { allowed: false; retryAfterMs: number }> {
    try {
      await this.#limiter.consume(key);
      return { allowed: true };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return { allowed: false, retryAfterMs: Math.max(1, rejection.msBeforeNext) };
      throw translateOutage(rejection, isRedisOutage, 'The rate limit could not be checked; retry shortly.');
    }
  }
}
