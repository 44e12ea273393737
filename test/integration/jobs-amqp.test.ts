/**
 * A server whose jobs run on RabbitMQ (JOBS=amqp): an export asked over REST is worked through
 * the broker and downloads; `parley jobs counts` reads the broker's queues.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { topologyOf } from '../../src/adapters/amqp/topology.js';
import { QUEUES } from '../../src/jobs/slow-work.js';
import type { Json } from '../support/json.js';
import { AMQP_URL, amqpPrefix, deleteTopologies, requireRabbitmq } from '../support/rabbitmq.js';
import { api, startTestServer, type TestServer } from '../support/server.js';

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
      const token = String((await api(server.url, 'POST', '/api/v1/auth/register', { body: { username: 'amqp_user', password: 'correct horse battery' } })).body.token);
      const roomId = String((await api(server.url, 'POST', '/api/v1/rooms', { token, body: { name: 'Broker', visibility: 'private' } })).body.room.id);
      for (let i = 0; i < 25; i++) await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token, body: { body: `via rabbit ${i}` } });
      const id = String((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/exports`, { token, body: { format: 'ndjson' } })).body.export.id);
      const deadline = Date.now() + 30_000;
      let done: Json | undefined;
      while (Date.now() < deadline) {
        const e = (await api(server.url, 'GET', `/api/v1/exports/${id}`, { token })).body.export as Json;
        if (e.state === 'done') {
          done = e;
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(done !== undefined, 'the export finished');
      const text = await (await fetch(new URL(String(done.downloadUrl), server.url))).text();
      assert.equal(text.trim().split('\n').length, 25);
      const counts = await server.parley.services.jobs.counts('export');
      assert.deepEqual({ waiting: counts.waiting, dead: counts.dead }, { waiting: 0, dead: 0 });
    });
  });
}
