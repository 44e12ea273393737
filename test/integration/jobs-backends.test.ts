/**
 * A server whose jobs run on a service of their own: an export asked over REST is worked
 * through RabbitMQ (JOBS=amqp) or through BullMQ on Redis (JOBS=bullmq), and downloads.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { topologyOf } from '../../src/adapters/amqp/topology.js';
import { QUEUES } from '../../src/jobs/slow-work.js';
import type { Json } from '../support/json.js';
import { AMQP_URL, amqpPrefix, deleteTopologies, requireRabbitmq } from '../support/rabbitmq.js';
import { REDIS_URL, requireRedis } from '../support/redis.js';
import { api, startTestServer, type TestServer } from '../support/server.js';

/** Registers `username`, fills a room with 25 messages, exports it and checks the file. */
async function exportRoundTrip(server: TestServer, username: string): Promise<void> {
  const token = String((await api(server.url, 'POST', '/api/v1/auth/register', { body: { username, password: 'correct horse battery' } })).body.token);
  const roomId = String((await api(server.url, 'POST', '/api/v1/rooms', { token, body: { name: 'Backend', visibility: 'private' } })).body.room.id);
  for (let i = 0; i < 25; i++) await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token, body: { body: `through the backend ${i}` } });
  const id = String((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/exports`, { token, body: { format: 'ndjson' } })).body.export.id);
  const deadline = Date.now() + 30_000;
  let done: Json | undefined;
  while (done === undefined && Date.now() < deadline) {
    const e = (await api(server.url, 'GET', `/api/v1/exports/${id}`, { token })).body.export as Json;
    if (e.state === 'done') done = e;
    else await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(done !== undefined, 'the export finished');
  const text = await (await fetch(new URL(String(done.downloadUrl), server.url))).text();
  assert.equal(text.trim().split('\n').length, 25);
}

if (await requireRabbitmq('Jobs on RabbitMQ')) {
  describe('a server with JOBS=amqp', () => {
    let server: TestServer;
    const prefix = amqpPrefix();
    before(async () => {
      server = await startTestServer({ JOBS: 'amqp', AMQP_URL, AMQP_PREFIX: prefix, JOBS_POLL_MS: 50 });
    });
    after(async () => {
      await server.stop();
      await deleteTopologies(AMQP_URL, QUEUES.map((q) => topologyOf(prefix, q)));
    });

    it('works an export through the broker', async () => {
      assert.equal(server.parley.services.jobs.kind, 'amqp');
      await exportRoundTrip(server, 'amqp_user');
      const counts = await server.parley.services.jobs.counts('export');
      assert.deepEqual({ waiting: counts.waiting, dead: counts.dead }, { waiting: 0, dead: 0 });
    });
  });
}

if (await requireRedis('Jobs on BullMQ')) {
  describe('a server with JOBS=bullmq', () => {
    let server: TestServer;
    const prefix = `parley-test-${randomBytes(4).toString('hex')}:`;
    before(async () => {
      server = await startTestServer({ JOBS: 'bullmq', REDIS_URL, REDIS_PREFIX: prefix });
    });
    after(async () => {
      await server.stop();
      const redis = new Redis(REDIS_URL);
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
    });

    it('works an export through Redis', async () => {
      assert.equal(server.parley.services.jobs.kind, 'bullmq');
      await exportRoundTrip(server, 'bull_user');
    });
  });
}
