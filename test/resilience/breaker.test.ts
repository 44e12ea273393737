/**
 * The breaker wrapper over opossum, one rule per test: it opens on outages past the threshold,
 * never on domain answers, refuses at once while open, lets one probe through after the reset
 * time, closes on its success and reopens on its failure, times out calls that have no timeout
 * of their own without leaving a rejection unhandled, bounds per-endpoint breakers, and reports
 * its state in the metrics.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBus } from '../../src/adapters/memory/bus.js';
import { AppError, conflict, forbidden, notFound, unavailable, validationFailed } from '../../src/errors.js';
import { Metrics } from '../../src/observability/metrics.js';
import type { Bus, Channel, Store } from '../../src/ports.js';
import { encodeRoom } from '../../src/protocol/bus-codec.js';
import { type Breaker, type BreakerObserver, Breakers, type BreakersOptions } from '../../src/resilience/breaker.js';
import { guardBus, guardStore } from '../../src/resilience/guarded-ports.js';
import { parseMetrics, total } from '../support/metrics.js';
import { recordUncaught } from '../support/uncaught.js';

const RESET_MS = 150;

function registry(overrides: Partial<BreakersOptions> = {}): Breakers {
  return new Breakers({ errorThresholdPercent: 50, volumeThreshold: 4, resetMs: RESET_MS, rollingWindowMs: 10_000, maxEndpoints: 3, timeoutMs: false, ...overrides });
}

const isUnavailable = (error: unknown): boolean => error instanceof AppError && error.code === 'unavailable';
const down = () => Promise.reject(unavailable('down'));

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function open(breaker: Breaker): Promise<void> {
  for (let i = 0; i < 4; i++) await assert.rejects(breaker.run(down), isUnavailable);
  assert.equal(breaker.state, 'open');
}

describe('circuit breaker', () => {
  it('opens once outage failures pass the threshold over enough calls, then refuses at once with unavailable and a Retry-After', async () => {
    const breakers = registry();
    try {
      const breaker = breakers.for('store', { message: 'The database is unavailable; retry shortly.' });
      // Below the volume threshold, even all failures keep it closed.
      for (let i = 0; i < 3; i++) await assert.rejects(breaker.run(down), isUnavailable);
      assert.equal(breaker.state, 'closed');
      await assert.rejects(breaker.run(down), isUnavailable);
      assert.equal(breaker.state, 'open');
      let called = false;
      const refused = await breaker.run(async () => {
        called = true;
      }).then(
        () => null,
        (error: unknown) => error,
      );
      assert.equal(called, false, 'a refused call never reaches the dependency');
      assert.ok(refused instanceof AppError);
      assert.equal(refused.code, 'unavailable');
      assert.equal(refused.status, 503);
      assert.equal(refused.message, 'The database is unavailable; retry shortly.');
      assert.ok((refused.retryAfterSeconds ?? 0) >= 1);
    } finally {
      breakers.close();
    }
  });

  it('domain answers (not_found, forbidden, conflict, validation_failed) and other errors never open it, and come back unchanged', async () => {
    const breakers = registry();
    try {
      const breaker = breakers.for('store');
      const errors = [notFound('no'), forbidden('no'), conflict('no'), validationFailed('no'), new Error('a bug')];
      for (let round = 0; round < 4; round++) {
        for (const error of errors) {
          const got = await breaker.run(() => Promise.reject(error)).then(
            () => null,
            (e: unknown) => e,
          );
          assert.equal(got, error);
        }
      }
      assert.equal(breaker.state, 'closed');
      // Successes and domain answers dilute outages: 20 answers and 4 outages stay under 50%.
      for (let i = 0; i < 4; i++) await assert.rejects(breaker.run(down), isUnavailable);
      assert.equal(breaker.state, 'closed');
    } finally {
      breakers.close();
    }
  });

  it('after the reset time lets one probe through (others still refused); its success closes it', async () => {
    const breakers = registry();
    try {
      const breaker = breakers.for('redis');
      await open(breaker);
      await until('half-open', () => breaker.state === 'half_open');
      let finish: () => void = () => undefined;
      const probe = breaker.run(() => new Promise<string>((resolve) => (finish = () => resolve('answered'))));
      await assert.rejects(breaker.run(async () => 'second'), isUnavailable, 'only one probe at a time');
      finish();
      assert.equal(await probe, 'answered');
      assert.equal(breaker.state, 'closed');
      assert.equal(await breaker.run(async () => 'through'), 'through');
    } finally {
      breakers.close();
    }
  });

  it('a failed probe opens it again for another reset time; a domain answer to the probe closes it (the dependency answered)', async () => {
    const breakers = registry();
    try {
      const breaker = breakers.for('redis');
      await open(breaker);
      await until('half-open', () => breaker.state === 'half_open');
      await assert.rejects(breaker.run(down), isUnavailable);
      assert.equal(breaker.state, 'open');
      await assert.rejects(breaker.run(async () => 'refused'), isUnavailable);
      await until('half-open again', () => breaker.state === 'half_open');
      await assert.rejects(breaker.run(() => Promise.reject(notFound('no such key'))), (e: unknown) => e instanceof AppError && e.code === 'not_found');
      assert.equal(breaker.state, 'closed');
    } finally {
      breakers.close();
    }
  });

  it('gate refuses while open but does not count: failures through it never open the breaker', async () => {
    const breakers = registry();
    try {
      const breaker = breakers.for('store');
      for (let i = 0; i < 10; i++) await assert.rejects(breaker.gate(down), isUnavailable);
      assert.equal(breaker.state, 'closed');
      await open(breaker);
      let called = false;
      await assert.rejects(
        breaker.gate(async () => {
          called = true;
        }),
        isUnavailable,
      );
      assert.equal(called, false);
    } finally {
      breakers.close();
    }
  });

  it('its own timeout (for calls without one) answers unavailable, counts as a failure, and the late rejection of the call is not left unhandled', async () => {
    const breakers = registry({ timeoutMs: 30, volumeThreshold: 1 });
    const uncaught = recordUncaught();
    try {
      const breaker = breakers.for('webhook:e1');
      const slow = () => new Promise<never>((_, reject) => setTimeout(() => reject(new Error('late failure')), 200));
      const error = await breaker.run(slow).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(isUnavailable(error));
      assert.equal(((error as AppError).cause as { code?: string }).code, 'ETIMEDOUT');
      assert.equal(breaker.state, 'open');
      await new Promise((r) => setTimeout(r, 400));
      assert.deepEqual(uncaught.errors, []);
    } finally {
      uncaught.stop();
      breakers.close();
    }
  });

  it('keeps one breaker per name, evicts the least recently used endpoint breakers past maxEndpoints and never the dependencies', async () => {
    const breakers = registry({ maxEndpoints: 2 });
    try {
      const store = breakers.for('store');
      assert.equal(breakers.for('store'), store);
      const a = breakers.for('webhook:a');
      breakers.for('webhook:b');
      assert.equal(breakers.for('webhook:a'), a, 'a use makes it the most recent');
      breakers.for('webhook:c');
      assert.deepEqual(breakers.size, { fixed: 1, endpoints: 2 });
      assert.equal(breakers.for('webhook:a'), a, 'a was used after b: b went');
      assert.notEqual(breakers.for('webhook:b'), undefined);
      assert.equal(breakers.for('store'), store);
      assert.throws(() => breakers.for('Bad Name'), /not kind or kind:id/);
      // An evicted breaker a caller still holds runs its calls unguarded, never refuses them for that.
      const held = breakers.for('webhook:x');
      for (const id of ['y', 'z']) breakers.for(`webhook:${id}`);
      assert.equal(await held.run(async () => 'still runs'), 'still runs');
    } finally {
      breakers.close();
    }
  });

  it('reports state (0, 1, 2), transitions and refusals as metrics, per-endpoint breakers under their kind', async () => {
    let metrics: Metrics | undefined;
    const observer: BreakerObserver = {
      created: (kind) => metrics?.breakerCreated(kind),
      transition: (_name, kind, _from, to) => metrics?.breakerTransitions.labels(kind, to).inc(),
      rejected: (kind) => metrics?.breakerRejected.labels(kind).inc(),
    };
    const breakers = registry({ observer });
    metrics = new Metrics({ connections: () => 0, breakers: () => breakers.states() });
    const read = async () => parseMetrics(await (metrics as Metrics).text());
    try {
      const redis = breakers.for('redis');
      breakers.for('webhook:one');
      const dead = breakers.for('webhook:two');
      let samples = await read();
      assert.equal(total(samples, 'parley_breaker_state', { breaker: 'redis' }), 0);
      assert.equal(total(samples, 'parley_breaker_state', { breaker: 'webhook' }), 0);
      assert.equal(total(samples, 'parley_breaker_transitions_total', { breaker: 'redis', to: 'open' }), 0, 'series exist from the start');

      await open(redis);
      await assert.rejects(redis.run(async () => undefined), isUnavailable);
      await assert.rejects(redis.run(async () => undefined), isUnavailable);
      await open(dead);
      samples = await read();
      assert.equal(total(samples, 'parley_breaker_state', { breaker: 'redis' }), 2);
      assert.equal(total(samples, 'parley_breaker_state', { breaker: 'webhook' }), 2, 'the worst endpoint');
      assert.equal(total(samples, 'parley_breaker_transitions_total', { breaker: 'redis', to: 'open' }), 1);
      assert.equal(total(samples, 'parley_breaker_rejected_total', { breaker: 'redis' }), 2);

      await until('half-open', () => redis.state === 'half_open');
      assert.equal(total(await read(), 'parley_breaker_state', { breaker: 'redis' }), 1);
      await redis.run(async () => undefined);
      samples = await read();
      assert.equal(total(samples, 'parley_breaker_state', { breaker: 'redis' }), 0);
      assert.equal(total(samples, 'parley_breaker_transitions_total', { breaker: 'redis', to: 'half_open' }), 1);
      assert.equal(total(samples, 'parley_breaker_transitions_total', { breaker: 'redis', to: 'closed' }), 1);
    } finally {
      breakers.close();
    }
  });
});

describe('guarded ports', () => {
  it('guardStore: every method through the breaker but close and migrate; search refused while open and never counted', async () => {
    const breakers = registry();
    try {
      const breaker = breakers.for('store');
      const calls: string[] = [];
      // Only the methods this test calls: the decorator is a Proxy over whatever the adapter has.
      const adapter = {
        ping: async () => void calls.push('ping'),
        findRoom: async () => {
          calls.push('findRoom');
          throw unavailable('The database is unavailable; retry shortly.');
        },
        search: async () => {
          calls.push('search');
          throw unavailable('The search took too long.');
        },
        migrate: async () => void calls.push('migrate'),
        close: async () => void calls.push('close'),
      };
      const store = guardStore(adapter as unknown as Store, breaker);
      for (let i = 0; i < 6; i++) await assert.rejects(store.search({ userId: 'u', terms: ['a'], limit: 1, maxCandidates: 1, deadlineAt: 0 }), isUnavailable);
      assert.equal(breaker.state, 'closed', 'searches stopped at their deadline say nothing of the database');
      for (let i = 0; i < 4; i++) await assert.rejects(store.findRoom('r'), isUnavailable);
      assert.equal(breaker.state, 'open');
      calls.length = 0;
      await assert.rejects(store.ping(), isUnavailable);
      await assert.rejects(store.search({ userId: 'u', terms: ['a'], limit: 1, maxCandidates: 1, deadlineAt: 0 }), isUnavailable);
      await store.migrate();
      await store.close();
      assert.deepEqual(calls, ['migrate', 'close']);
      assert.equal((store as unknown as { then?: unknown }).then, undefined);
    } finally {
      breakers.close();
    }
  });

  it('guardBus: publishes refused while open are lost like failed ones, and the latest event of each room is published again when the breaker closes', async () => {
    const breakers = registry();
    const inner = new MemoryBus();
    let failing = false;
    // The real in-process bus, with a switch that makes its publishes fail as a bus outage does.
    const flaky: Bus = {
      publish: (channel, payload) => (failing ? Promise.reject(unavailable('The bus is unavailable.')) : inner.publish(channel, payload)),
      subscribe: (channel, handler) => inner.subscribe(channel, handler),
      onReset: (listener) => inner.onReset(listener),
      resubscribe: () => inner.resubscribe(),
      close: () => inner.close(),
    };
    const errors: unknown[] = [];
    try {
      const breaker = breakers.for('bus');
      const bus = guardBus(flaky, breaker, { onError: (error) => errors.push(error) });
      const received: string[] = [];
      const room: Channel = 'room:r1';
      const quiet: Channel = 'room:r2';
      await bus.subscribe(room, (payload) => received.push(payload));
      await bus.subscribe(quiet, (payload) => received.push(payload));
      const event = (seq: number, roomId = 'r1') => encodeRoom({ type: 'event', seq, kind: 'message', userId: 'u1', target: null, frame: `{"roomId":"${roomId}","seq":${seq}}` });
      failing = true;
      for (let seq = 1; seq <= 4; seq++) await assert.rejects(bus.publish(room, event(seq)), isUnavailable);
      assert.equal(breaker.state, 'open');
      await assert.rejects(bus.publish(room, event(5)), isUnavailable);
      await assert.rejects(bus.publish(quiet, event(9, 'r2')), isUnavailable);
      await assert.rejects(bus.publish(room, encodeRoom({ type: 'typing', userId: 'u1', frame: '{}' })), isUnavailable);
      failing = false;
      await until('half-open', () => breaker.state === 'half_open');
      // The probe: a later event of r2 was published, so r2 needs nothing again.
      await bus.publish(quiet, event(10, 'r2'));
      await until('republished', () => received.length >= 2);
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(received, [event(10, 'r2'), event(5)]);
      assert.deepEqual(errors, []);
    } finally {
      breakers.close();
    }
  });
});
