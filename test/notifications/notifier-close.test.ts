/**
 * Regression: messages committed while a node shut down (its last requests drained after the
 * job queue had closed) had the notifier enqueue their rooms' runs on the closed queue, and
 * each logged "job backend error: The job queue is closed" at error level, hundreds at once
 * under DM traffic. Now the notifier enqueues its window's runs before the queue closes and
 * nothing after: those rooms' cursors stay behind, and the next process's sweep runs them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, it } from 'node:test';
import { EmbeddedJobQueue } from '../../src/adapters/sql/job-queue.js';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { MemoryBus } from '../../src/adapters/memory/bus.js';
import { MemoryRateLimiter } from '../../src/adapters/memory/rate-limiter.js';
import { Publisher } from '../../src/domain/publisher.js';
import type { StreamEventRecord } from '../../src/domain/types.js';
import { NOTIFY_QUEUE, Notifier } from '../../src/notifications/notifier.js';

const dir = mkdtempSync(path.join(tmpdir(), 'parley-notifier-close-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const message = (roomId: string, seq: number): StreamEventRecord => ({ roomId, seq, kind: 'message', target: null, userId: 'u', createdAt: Date.now(), message: null }) as unknown as StreamEventRecord;

it('close enqueues the window’s runs at once and nothing after; nothing is logged as an error', async () => {
  const store = openSqliteStore(path.join(dir, 'parley.db'));
  await store.migrate();
  const errors: string[] = [];
  const onError = (error: unknown, context: string) => errors.push(`${context}: ${String(error)}`);
  const jobs = new EmbeddedJobQueue(store, { onError, pollMs: 60_000 });
  const notifier = new Notifier(store, jobs, new Publisher(new MemoryBus(), (error) => onError(error, 'publish')), { roomMentions: new MemoryRateLimiter({ ratePerSec: 1, burst: 1 }), onError });
  try {
    notifier.committed(message('room-a', 7));
    notifier.committed(message('room-b', 3));
    await notifier.close();
    await jobs.close(1_000);
    // Committed during the rest of the shutdown: not enqueued, not an error.
    notifier.committed(message('room-c', 9));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(errors, []);
    const reopened = new EmbeddedJobQueue(store, { onError, pollMs: 60_000 });
    assert.equal((await reopened.counts(NOTIFY_QUEUE)).waiting, 1, 'the window was enqueued before the queue closed: one job for its two rooms');
    await reopened.close(1_000);
  } finally {
    await store.close();
  }
});
