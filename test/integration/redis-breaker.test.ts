/**
 * The Redis breaker of a real server, on a Redis of the test's own that the test stops and
 * starts again. While Redis is down the breaker opens (`parley_breaker_state{breaker="redis"}`
 * 2), and calls that need Redis are answered 503 `unavailable` with Retry-After at once, without
 * reaching Redis (refusals counted, no Redis command sent), rather than each waiting for the
 * command timeout; what degrades keeps working (sessions from the store, rate limits in the
 * process). Once Redis is back, the probe closes the breaker and everything works again.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { scrape, total } from '../support/metrics.js';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { REDIS_SERVER, requireBinary, type ServerHandle, startRedis } from '../support/services.js';
import { recordUncaught } from '../support/uncaught.js';
import { WsTestClient } from '../support/ws-client.js';

async function until<T>(what: string, check: () => Promise<T | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

if (requireBinary(REDIS_SERVER, 'redis-server', 'Redis breaker')) {
  let redis: ServerHandle;
  let server: TestServer;
  let owner: TestUser;
  let roomId: string;

  before(async () => {
    redis = await startRedis();
    server = await startTestServer({
      REDIS_URL: redis.url,
      REDIS_COMMAND_TIMEOUT_MS: 1_000,
      BREAKER_VOLUME_THRESHOLD: 5,
      // Long enough that the calls below meet the breaker open, not probing.
      BREAKER_RESET_MS: 3_000,
    });
    owner = await registerUser(server.url, 'brk');
    roomId = await createRoom(server.url, owner);
  });
  after(async () => {
    await server?.stop();
    await redis?.stop();
  });

  it('Redis down: the redis breaker opens and calls fail fast with 503 instead of waiting for timeouts; Redis back: it closes and everything works', async () => {
    const members = () => api(server.url, 'GET', `/api/v1/rooms/${roomId}/members`, { token: owner.token });
    const breakerState = async () => total(await scrape(server.url), 'parley_breaker_state', { breaker: 'redis' });
    assert.equal((await members()).status, 200);
    assert.equal(await breakerState(), 0);
    const ws = await WsTestClient.connect(server.wsUrl, { token: owner.token });
    // Answered once the connection is confirmed (its user channel subscribed on the bus).
    ws.sendRaw(JSON.stringify({ type: 'ping' }));
    await ws.waitFor((f) => f.type === 'pong', 20_000);
    const uncaught = recordUncaught();
    try {
      await redis.halt({ hard: true });
      // Each call needing Redis fails (at first after the command timeout) until the breaker opens.
      await until('the redis breaker open', async () => {
        const res = await members();
        assert.equal(res.status, 503, JSON.stringify(res.body));
        return (await breakerState()) === 2;
      });

      // Open: refused at once. None of these reaches Redis (perhaps one probe, if the reset time passed).
      const before = await scrape(server.url);
      const CALLS = 10;
      for (let i = 0; i < CALLS; i++) {
        const res = await members();
        assert.equal(res.status, 503);
        assert.equal(res.body.error.code, 'unavailable');
        assert.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After');
      }
      const afterCalls = await scrape(server.url);
      const refused = total(afterCalls, 'parley_breaker_rejected_total', { breaker: 'redis' }) - total(before, 'parley_breaker_rejected_total', { breaker: 'redis' });
      const commands = total(afterCalls, 'parley_redis_command_duration_seconds_count') - total(before, 'parley_redis_command_duration_seconds_count');
      assert.ok(refused >= CALLS - 1, `${refused} of ${CALLS} calls refused by the breaker`);
      assert.ok(commands <= 4, `${commands} Redis commands sent for ${CALLS} calls`);
      assert.ok(total(afterCalls, 'parley_breaker_transitions_total', { breaker: 'redis', to: 'open' }) >= 1);

      // What degrades keeps working: sessions are read from the store, sends are limited per process.
      assert.equal((await api(server.url, 'GET', '/api/v1/me', { token: owner.token })).status, 200);
      const send = await ws.request({ type: 'send', roomId, body: 'while Redis is down', clientMsgId: 'rb1' }, 20_000);
      assert.equal(send.ok, true, JSON.stringify(send));
      // A subscribe needs the room's online members, in Redis: unavailable, not internal.
      const subscribe = await ws.request({ type: 'subscribe', roomId }, 20_000);
      assert.equal(subscribe.ok, false);
      assert.equal(subscribe.error.code, 'unavailable');

      await redis.start();
      await until('the redis breaker closed', async () => (await breakerState()) === 0 && (await members()).status === 200);
      const samples = await scrape(server.url);
      assert.ok(total(samples, 'parley_breaker_transitions_total', { breaker: 'redis', to: 'closed' }) >= 1);
      assert.equal((await ws.request({ type: 'subscribe', roomId }, 20_000)).ok, true);
      assert.deepEqual(uncaught.errors, []);
    } finally {
      uncaught.stop();
      ws.close();
    }
  });
}
