/**
 * deploy/haproxy.cfg in front of two nodes: REST and WebSocket pass through, active checks on
 * /readyz take a draining node out of the pool, and clients of the SDK carry on through the
 * other node without losing an acknowledged message.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ParleyClient } from '../../client/index.js';
import { Fleet, HAPROXY } from '../support/fleet.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { api } from '../support/server.js';
import { REDIS_SERVER, requireBinary, type ServerHandle, startRedis } from '../support/services.js';

const ready = (await requirePostgres('haproxy')) && requireBinary(REDIS_SERVER, 'redis-server', 'haproxy') && requireBinary(HAPROXY, 'haproxy', 'haproxy');

if (ready) {
  describe('HAProxy in front of two nodes', { concurrency: false }, () => {
    let db: TestDatabase;
    let redis: ServerHandle;
    let fleet: Fleet;

    before(async () => {
      db = await createTestDatabase();
      redis = await startRedis();
      fleet = await Fleet.start({
        nodes: 2,
        workersPerNode: 1,
        balancer: 'haproxy',
        env: { DATABASE_URL: db.url, REDIS_URL: redis.url, LOG_LEVEL: 'warn', SCRYPT_COST: '10', SHUTDOWN_TIMEOUT_MS: '8000', BUS_PROBE_INTERVAL_MS: '500' },
      });
    });
    after(async () => {
      await fleet?.stop();
      await redis?.stop();
      await db?.drop();
    });

    it('a node shutting down leaves the pool; requests and sockets carry on through the other', async () => {
      const reg = await api(fleet.url, 'POST', '/api/v1/auth/register', { body: { username: `hp_${Date.now() % 100000}`, password: 'correct horse battery' } });
      assert.equal(reg.status, 201);
      const token = reg.body.token as string;
      const room = await api(fleet.url, 'POST', '/api/v1/rooms', { token, body: { name: 'ha', visibility: 'public' } });
      const roomId = room.body.room.id as string;

      const client = new ParleyClient({ baseUrl: fleet.url, token, WebSocket: WebSocket as never, backoff: { initialMs: 100, maxMs: 1_000 } });
      const seen: number[] = [];
      client.on('event', (e) => seen.push(e.seq));
      await client.connect();
      await client.subscribe(roomId);

      const acked: number[] = [];
      const statuses: Array<number | string> = [];
      let stop = false;
      const load = (async () => {
        for (let i = 0; !stop; i++) {
          acked.push((await client.send(roomId, `m${i}`)).seq);
          // A request that gets no answer is recorded with its cause (not thrown), so the
          // assertion below says what happened instead of the run ending on an unhandled rejection.
          statuses.push(
            await api(fleet.url, 'GET', '/healthz').then(
              (res) => res.status,
              (error: Error & { cause?: { code?: string; message?: string } }) => `${error.message}: ${error.cause?.code ?? error.cause?.message ?? 'no cause'}`,
            ),
          );
          await new Promise((r) => setTimeout(r, 20));
        }
      })();

      await new Promise((r) => setTimeout(r, 1_000));
      const [first, second] = fleet.nodes as [typeof fleet.nodes[0], typeof fleet.nodes[0]];
      assert.equal(await first.stop('SIGTERM'), 0);
      await new Promise((r) => setTimeout(r, 2_000));
      await first.start();
      await new Promise((r) => setTimeout(r, 2_500));
      assert.equal(await second.stop('SIGTERM'), 0);
      await new Promise((r) => setTimeout(r, 2_000));
      stop = true;
      await load;

      assert.deepEqual(statuses.filter((s) => s !== 200), [], 'a request through HAProxy failed');
      const deadline = Date.now() + 10_000;
      while (seen.at(-1) !== acked.at(-1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(acked.length > 50, `only ${acked.length} sends`);
      const firstSeq = seen[0] as number;
      assert.deepEqual(seen, Array.from({ length: seen.length }, (_, i) => firstSeq + i), 'the stream has a gap or a duplicate');
      for (const seq of acked) assert.ok(seen.includes(seq), `acknowledged message ${seq} never delivered`);
      await client.close();
      await second.start();
    });
  });
}
