import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { retry } from '../../src/resilience/retry.js';

const transient = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const isTransient = (error: unknown): boolean => (error as { code?: string }).code === 'ECONNREFUSED';

/** Records the waits instead of waiting. */
function recorder(): { waits: number[]; sleep(ms: number): Promise<void> } {
  const waits: number[] = [];
  return { waits, sleep: async (ms) => void waits.push(ms) };
}

describe('retry', () => {
  it('waits with full jitter: uniform in [0, base × 2^(n-1)), capped at max', async () => {
    for (const [random, expected] of [
      [() => 0, [0, 0, 0, 0, 0]],
      [() => 0.999_999, [99, 199, 399, 799, 999]],
      [() => 0.5, [50, 100, 200, 400, 500]],
    ] as const) {
      const { waits, sleep } = recorder();
      await assert.rejects(
        retry(() => Promise.reject(transient), { attempts: 6, baseMs: 100, maxMs: 1_000, retryable: isTransient, random, sleep }),
        (e: unknown) => e === transient,
      );
      assert.deepEqual(waits, expected);
    }
  });

  it('every wait stays within its bound whatever the draw', async () => {
    const { waits, sleep } = recorder();
    await assert.rejects(retry(() => Promise.reject(transient), { attempts: 12, baseMs: 10, maxMs: 300, retryable: isTransient, sleep }));
    assert.equal(waits.length, 11);
    waits.forEach((ms, i) => {
      assert.ok(ms >= 0 && ms < Math.min(300, 10 * 2 ** i), `wait ${i}: ${ms}`);
    });
  });

  it('gives up after `attempts` with the last error, having called fn that many times', async () => {
    const { waits, sleep } = recorder();
    const seen: number[] = [];
    const last = new Error('third');
    const errors = [transient, Object.assign(new Error('again'), { code: 'ECONNREFUSED' }), Object.assign(last, { code: 'ECONNREFUSED' })];
    await assert.rejects(
      retry(
        async (attempt) => {
          seen.push(attempt);
          throw errors[attempt - 1];
        },
        { attempts: 3, baseMs: 1, maxMs: 1, retryable: isTransient, sleep },
      ),
      (e: unknown) => e === last,
    );
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(waits.length, 2);
  });

  it('returns the first success', async () => {
    const { sleep } = recorder();
    const result = await retry(async (attempt) => {
      if (attempt < 3) throw transient;
      return `ok on ${attempt}`;
    }, { attempts: 5, baseMs: 1, maxMs: 1, retryable: isTransient, sleep });
    assert.equal(result, 'ok on 3');
  });

  it('a failure that is not retryable is thrown at once, without a wait', async () => {
    const { waits, sleep } = recorder();
    const permanent = new Error('password authentication failed');
    let calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
          throw permanent;
        },
        { attempts: 5, baseMs: 1, maxMs: 1, retryable: isTransient, sleep },
      ),
      (e: unknown) => e === permanent,
    );
    assert.equal(calls, 1);
    assert.deepEqual(waits, []);
  });

  it('aborting ends a wait at once and rejects with the reason; an aborted signal makes no call', async () => {
    const controller = new AbortController();
    let calls = 0;
    const running = retry(
      async () => {
        calls++;
        throw transient;
      },
      { attempts: 5, baseMs: 60_000, maxMs: 60_000, retryable: isTransient, random: () => 0.99, signal: controller.signal },
    );
    await new Promise((r) => setTimeout(r, 20));
    const reason = new Error('shutting down');
    controller.abort(reason);
    await assert.rejects(running, (e: unknown) => e === reason);
    assert.equal(calls, 1);
    await assert.rejects(retry(async () => calls++, { attempts: 1, baseMs: 1, maxMs: 1, retryable: () => true, signal: controller.signal }), (e: unknown) => e === reason);
    assert.equal(calls, 1);
  });

  it('tells onRetry each failure, attempt and wait', async () => {
    const { sleep } = recorder();
    const told: Array<[number, number]> = [];
    await assert.rejects(
      retry(() => Promise.reject(transient), { attempts: 3, baseMs: 100, maxMs: 1_000, retryable: isTransient, random: () => 0.5, sleep, onRetry: (_e, attempt, ms) => told.push([attempt, ms]) }),
    );
    assert.deepEqual(told, [
      [1, 50],
      [2, 100],
    ]);
  });
});
