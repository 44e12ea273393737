/**
 * The Redis failure mode where a subscription stops delivering while its connection looks
 * healthy: the node notices through its bus probe, reports not ready, resubscribes, resyncs
 * its rooms from the store, and turns ready again; its clients miss nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ParleyClient } from '../../client/index.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { BlackholeProxy } from '../support/proxy.js';
import { api, startTestServer, type TestServer } from '../support/server.js';
import { REDIS_SERVER, requireBinary, type ServerHandle, startRedis } from '../support/services.js';

const ready = (await requirePostgres('silent bus')) && requireBinary(REDIS_SERVER, 'redis-server', 'silent bus');

if (ready) {
  describe('a bus subscription that silently stops delivering', { concurrency: false }, () => {
    let db: TestDatabase;
    let redis: ServerHandle;
    let proxy: BlackholeProxy;
    let quiet: TestServer;
    let loud: TestServer;

    before(async () => {
      db = await createTestDatabase();
      redis = await startRedis();
      proxy = await BlackholeProxy.start(redis.port);
      const common = { DATABASE_URL: db.url, BUS_PROBE_INTERVAL_MS: 200, REDIS_COMMAND_TIMEOUT_MS: 500, SEND_RATE_PER_SEC: 1000, SEND_BURST: 1000 };
      // `quiet` reaches Redis through the proxy; `loud` directly.
      quiet = await startTestServer({ ...common, REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
      loud = await startTestServer({ ...common, REDIS_URL: redis.url });
    });
    after(async () => {
      await quiet?.stop();
      await loud?.stop();
      await proxy?.stop();
      await redis?.stop();
      await db?.drop();
    });

    it('is noticed by the probe: not ready, resubscribed, resynced, ready again, nothing missed', async () => {
      const sender = await api(loud.url, 'POST', '/api/v1/auth/register', { body: { username: 'silent_sender', password: 'correct horse battery' } });
      const reader = await api(loud.url, 'POST', '/api/v1/auth/register', { body: { username: 'silent_reader', password: 'correct horse battery' } });
      const room = await api(loud.url, 'POST', '/api/v1/rooms', { token: sender.body.token, body: { name: 'quiet', visibility: 'public' } });
      const roomId = room.body.room.id as string;
      await api(loud.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: reader.body.token });

      // The reader is connected to `quiet`, whose bus connections are about to go silent.
      const client = new ParleyClient({ baseUrl: quiet.url, token: reader.body.token, WebSocket: WebSocket as never });
      const seen: number[] = [];
      client.on('event', (e) => seen.push(e.seq));
      await client.connect();
      const start = (await client.subscribe(roomId)).lastSeq;
      let reconnects = 0;
      client.on('state', (s) => {
        if (s.state === 'reconnecting') reconnects++;
      });

      assert.equal((await fetch(`${quiet.url}/readyz`)).status, 200);
      assert.ok(proxy.blackhole() >= 2, 'the quiet node has bus connections through the proxy');

      const acked: number[] = [];
      const statuses = new Set<number>();
      for (let i = 0; i < 30; i++) {
        const res = await api(loud.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: sender.body.token, body: { body: `while silent ${i}` } });
        acked.push(res.body.message.seq as number);
        statuses.add((await fetch(`${quiet.url}/readyz`)).status);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(statuses.has(503), 'the quiet node never reported not ready');

      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && ((await fetch(`${quiet.url}/readyz`)).status !== 200 || seen.at(-1) !== acked.at(-1))) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal((await fetch(`${quiet.url}/readyz`)).status, 200, 'the quiet node did not turn ready again');
      assert.deepEqual(seen, Array.from({ length: (acked.at(-1) as number) - start }, (_, i) => start + 1 + i));
      assert.equal(reconnects, 0, 'the client should not have needed to reconnect: the node healed itself');
      await client.close();
    });
  });
}
