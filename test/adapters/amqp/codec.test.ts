import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJob, encodeJob, type JobMessage } from '../../../src/adapters/amqp/codec.js';

const job: JobMessage = {
  id: 'job-1',
  key: 'k1',
  payload: JSON.stringify({ roomId: 'r1', text: 'héllo ✓' }),
  attempt: 2,
  attempts: 5,
  backoff: { baseMs: 1_000, maxMs: 300_000 },
  enqueuedAt: 1_796_000_000_123,
  runAt: 1_796_000_004_567,
};

/** A message as the broker delivers what `encodeJob` published. */
const delivered = (encoded: ReturnType<typeof encodeJob>) => ({
  content: encoded.content,
  properties: { messageId: encoded.options.messageId, headers: encoded.options.headers as Record<string, unknown> },
});

describe('the job message codec', () => {
  it('publishes persistent JSON messages named by the job id', () => {
    const { content, options } = encodeJob(job);
    assert.equal(options.persistent, true);
    assert.equal(options.messageId, 'job-1');
    assert.equal(options.contentType, 'application/json');
    assert.deepEqual(JSON.parse(content.toString('utf8')), { roomId: 'r1', text: 'héllo ✓' });
  });

  it('round-trips every field, with the payload parsed', () => {
    const decoded = decodeJob(delivered(encodeJob(job)));
    assert.deepEqual(decoded, { ...job, value: { roomId: 'r1', text: 'héllo ✓' }, death: null });
  });

  it('a job without key or due time has neither header', () => {
    const { options } = encodeJob({ ...job, key: null, runAt: 0 });
    assert.equal('x-parley-key' in options.headers, false);
    assert.equal('x-parley-run-at' in options.headers, false);
    const decoded = decodeJob(delivered(encodeJob({ ...job, key: null, runAt: 0 })));
    assert.equal(decoded?.key, null);
    assert.equal(decoded?.runAt, 0);
  });

  it('a dead letter carries its last error and failure time', () => {
    const decoded = decodeJob(delivered(encodeJob(job, { error: 'Error: endpoint down', failedAt: 1_796_000_009_000 })));
    assert.deepEqual(decoded?.death, { error: 'Error: endpoint down', failedAt: 1_796_000_009_000 });
  });

  it('reads numbers sent as strings (another client, a shovel)', () => {
    const { content, options } = encodeJob(job);
    const headers = Object.fromEntries(Object.entries(options.headers as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    assert.deepEqual(decodeJob({ content, properties: { messageId: 'job-1', headers } })?.attempt, 2);
  });

  it('a message that is not a job decodes to null', () => {
    const good = delivered(encodeJob(job));
    const without = (header: string) => ({ ...good, properties: { ...good.properties, headers: { ...good.properties.headers, [header]: undefined } } });
    assert.equal(decodeJob({ ...good, properties: { ...good.properties, messageId: undefined } }), null);
    for (const header of ['x-parley-attempt', 'x-parley-attempts', 'x-parley-backoff-base-ms', 'x-parley-backoff-max-ms', 'x-parley-enqueued-at']) {
      assert.equal(decodeJob(without(header)), null, header);
    }
    assert.equal(decodeJob({ ...good, properties: { ...good.properties, headers: { ...good.properties.headers, 'x-parley-attempt': 'two' } } }), null);
    assert.equal(decodeJob({ ...good, properties: { ...good.properties, headers: { ...good.properties.headers, 'x-parley-key': 7 } } }), null);
    assert.equal(decodeJob({ ...good, content: Buffer.from('not json') }), null);
    assert.equal(decodeJob({ ...good, content: Buffer.from('[1,2]') }), null);
    assert.equal(decodeJob({ ...good, content: Buffer.from('null') }), null);
    assert.equal(decodeJob({ content: good.content, properties: { messageId: 'x', headers: undefined } }), null);
  });
});
