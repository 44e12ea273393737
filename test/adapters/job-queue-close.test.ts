/**
 * Regression: a claim still in flight when the embedded queue closed was answered after the
 * store had closed, and the jobs it claimed could not be given back ("driver has already been
 * destroyed"): they waited for their lease to lapse. close() now waits for the claim and gives
 * back what it claimed, so another process takes them at once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { EmbeddedJobQueue } from '../../src/adapters/sql/job-queue.js';
import type { StoreWithJobs } from '../../src/adapters/sql/job-store.js';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';

const dir = mkdtempSync(path.join(tmpdir(), 'parley-jobs-close-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('close waits for a claim in flight and gives back what it claimed', async () => {
  // Two processes' stores on one database: the closing one is closed as a node's shutdown does.
  const store = openSqliteStore(path.join(dir, 'parley.db'));
  await store.migrate();
  const closingStore = openSqliteStore(path.join(dir, 'parley.db'));
  const errors: string[] = [];
  const onError = (error: unknown, context: string) => errors.push(`${context}: ${String(error)}`);
  // The real store, with its claims held back long enough to close the queue meanwhile.
  let claims = 0;
  let claimed!: Promise<unknown>;
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const slow = new Proxy(closingStore, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property !== 'jobsClaim' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        claims += 1;
        await held;
        claimed = value.apply(target, args);
        return claimed;
      };
    },
  }) as StoreWithJobs;
  const closing = new EmbeddedJobQueue(slow, { onError, pollMs: 60_000 });
  const other = new EmbeddedJobQueue(store, { onError, pollMs: 50 });
  try {
    const queue = 'close-race';
    const job = await other.enqueue(queue, { n: 1 });
    const ran: string[] = [];
    await closing.work(queue, async (j) => void ran.push(`closing ${j.id}`), { concurrency: 1, visibilityTimeoutMs: 60_000 });
    assert.equal(claims, 1, 'a claim is in flight');
    const closed = closing.close(2_000);
    setTimeout(release, 100);
    await closed;
    // The claim has been answered (the job is leased to the closing queue) before its store closes.
    await held;
    await claimed;
    await closingStore.close();
    assert.equal(ran.length, 0, 'nothing starts on a closing queue');
    // Given back, not held for the 60 s lease: the other queue runs it at once.
    await other.work(queue, async (j) => void ran.push(`other ${j.id}`), { concurrency: 1, visibilityTimeoutMs: 60_000 });
    const deadline = Date.now() + 5_000;
    while (ran.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(ran, [`other ${job.id}`]);
    assert.deepEqual(errors, []);
  } finally {
    await other.close(500);
    await store.close();
  }
});
