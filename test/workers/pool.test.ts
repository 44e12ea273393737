/** The worker-thread pool runs its tasks on other threads, and refuses work past its queue instead of queueing without bound. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { AppError } from '../../src/errors.js';
import { WorkerPool } from '../../src/workers/pool.js';

const record = (seq: number, body: string) => ({
  roomId: 'r',
  seq,
  id: `m${seq}`,
  author: { id: 'u', username: 'ann', displayName: 'Ann <admin>' },
  body,
  createdAt: 1_700_000_000_000,
  editedAt: null,
  deleted: false,
  clientMsgId: null,
});

describe('worker pool', () => {
  const pool = new WorkerPool({ threads: 1, maxQueue: 2 });
  after(() => pool.close());

  it('renders a page on a pool thread: the wire shape, escaped', async () => {
    const html = await pool.run('render-export-page', { format: 'html', messages: [record(3, '<b>hi</b> & bye')] });
    assert.match(html, /&lt;b&gt;hi&lt;\/b&gt; &amp; bye/);
    assert.match(html, /Ann &lt;admin&gt;/);
    const ndjson = await pool.run('render-export-page', { format: 'ndjson', messages: [record(3, 'a'), record(4, 'b')] });
    assert.deepEqual(
      ndjson
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { seq: number; createdAt: string }).seq),
      [3, 4],
    );
    assert.equal((JSON.parse(ndjson.split('\n')[0] ?? '') as { createdAt: string }).createdAt, '2023-11-14T22:13:20.000Z');
    assert.ok(pool.stats().threads >= 1);
  });

  it('refuses a task past its queue with unavailable, and runs the rest', async () => {
    const big = Array.from({ length: 20_000 }, (_, i) => record(i + 1, 'x'.repeat(200)));
    const runs = Array.from({ length: 8 }, () => pool.run('render-export-page', { format: 'html', messages: big }).then(() => 'ok', (e: unknown) => e));
    const outcomes = await Promise.all(runs);
    const refused = outcomes.filter((o) => o instanceof AppError && o.code === 'unavailable');
    assert.ok(refused.length > 0, 'some were refused');
    assert.ok(outcomes.filter((o) => o === 'ok').length >= 2, 'the ones that fit ran');
  });
});
