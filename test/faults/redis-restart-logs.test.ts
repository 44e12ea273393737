/**
 * What a Redis restart costs in log lines. It used to be over a hundred error lines (one per
 * reconnection attempt of each connection, one per failed publish, cache read and presence
 * update); now each connection says once that it lost Redis and once that it is back.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { startParley } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { captureLogs, LEVEL } from '../support/log-capture.js';
import { api, createRoom, registerUser } from '../support/server.js';
import { REDIS_SERVER, requireBinary, startRedis } from '../support/services.js';
import { WsTestClient } from '../support/ws-client.js';

if (requireBinary(REDIS_SERVER, 'redis-server', 'Redis restart logs')) {
  it('regression: a Redis restart under traffic logs one line per connection when Redis goes and one when it is back, not one per retry or failed call', async () => {
    const redis = await startRedis();
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-redis-logs-'));
    const logs = captureLogs('info');
    const parley = await startParley(testConfig({ PORT: 0, DATA_DIR: dir, REDIS_URL: redis.url, LOG_LEVEL: 'info' }), logs.log);
    const clients: WsTestClient[] = [];
    let traffic = true;
    try {
      const wsUrl = `${parley.url.replace(/^http/, 'ws')}/ws`;
      const owner = await registerUser(parley.url, 'rl');
      const roomId = await createRoom(parley.url, owner);
      const users = [owner];
      for (let i = 0; i < 3; i++) {
        const u = await registerUser(parley.url, 'rl');
        assert.equal((await api(parley.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: u.token })).status, 200);
        users.push(u);
      }
      for (const u of users) {
        const c = await WsTestClient.connect(wsUrl, { token: u.token });
        await c.request({ type: 'subscribe', roomId });
        clients.push(c);
      }
      const before = logs.lines.length;
      // Steady traffic through the outage: sends, subscribes, REST reads and new connections.
      let n = 0;
      /** When Redis was down, and the rounds of traffic that overlapped it. */
      const down = { from: Number.POSITIVE_INFINITY, to: Number.POSITIVE_INFINITY };
      let roundsWhileDown = 0;
      const outcomes: string[] = [];
      const loop = (async () => {
        while (traffic) {
          n++;
          const started = Date.now();
          const c = clients[n % clients.length] as WsTestClient;
          const replies = await Promise.all([
            c.request({ type: 'send', roomId, body: `m${n}`, clientMsgId: `m${n}` }).catch((e: Error) => ({ ok: false, error: { code: e.message } })),
            c.request({ type: 'subscribe', roomId }).catch((e: Error) => ({ ok: false, error: { code: e.message } })),
          ]);
          for (const r of replies) outcomes.push(r.ok === true ? 'ok' : String(r.error?.code));
          const me = await api(parley.url, 'GET', '/api/v1/me', { token: (users[n % users.length] as { token: string }).token });
          outcomes.push(String(me.status));
          await WsTestClient.connect(wsUrl, { token: owner.token }).then(
            (extra) => extra.close(),
            (e: { status?: number }) => outcomes.push(`upgrade ${e.status}`),
          );
          if (started < down.to && Date.now() > down.from) roundsWhileDown++;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await new Promise((r) => setTimeout(r, 300));
      down.from = Date.now();
      await redis.restart({ hard: true, downMs: 2_000 });
      down.to = Date.now();
      // Back: the bus resubscribed and resynced, the probe came home, the node is ready.
      const deadline = Date.now() + 15_000;
      while ((await parley.notReadyReason()) !== null || !logs.lines.some((l) => l.msg === 'redis bus sub available again')) {
        if (Date.now() > deadline) throw new Error(`not recovered: ${JSON.stringify(logs.lines.slice(before))}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 1_000));
      traffic = false;
      await loop;

      const during = logs.lines.slice(before);
      const loud = during.filter((l) => l.level >= LEVEL.warn);
      // Each connection: one line when Redis went, one when it came back.
      for (const dependency of ['redis', 'redis bus pub', 'redis bus sub']) {
        assert.deepEqual(
          during.filter((l) => l.dependency === dependency).map((l) => [l.level, l.msg]),
          [
            [LEVEL.error, `${dependency} unavailable`],
            [LEVEL.info, `${dependency} available again`],
          ],
          dependency,
        );
      }
      const back = during.find((l) => l.msg === 'redis available again');
      assert.ok(typeof back?.downMs === 'number' && typeof back.suppressed === 'number', 'the end of the outage says how long and how much');
      // Besides those three errors: the bus reset, and the probe noticing the silence.
      assert.ok(loud.length <= 6, `${loud.length} warn/error lines:\n${loud.map((l) => `${l.level} ${l.msg}`).join('\n')}`);
      assert.ok(roundsWhileDown > 0, `traffic ran through the outage (${n} rounds, ${roundsWhileDown} while Redis was down)`);
      // The traffic saw the outage (and only as such): never internal, never a 500.
      assert.ok(!outcomes.includes('internal') && !outcomes.includes('500'), outcomes.join(' '));
    } finally {
      traffic = false;
      for (const c of clients) c.close();
      await parley.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
