/**
 * Load shedding of a real server in this process: the test blocks the event loop itself (a
 * synchronous busy loop in a timer) until the lag passes LOAD_SHED_LAG_MS. Then a new REST call
 * is answered 503 `unavailable` with Retry-After and a new WebSocket is accepted and closed with
 * 1013, while a WebSocket opened before still gets its answers and /healthz, /readyz and
 * /metrics still answer; once the loop is free again, new calls succeed.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { scrape, total } from '../support/metrics.js';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

/** Generous: on a shared machine everything is slower, and more so with the loop blocked. */
const WAIT_MS = 30_000;

async function until(what: string, check: () => boolean, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let server: TestServer;
let user: TestUser;
let roomId: string;

before(async () => {
  // Far above what a busy test machine lags by itself, far below what the test blocks for.
  server = await startTestServer({ LOAD_SHED_LAG_MS: 80 });
  user = await registerUser(server.url, 'shed');
  roomId = await createRoom(server.url, user);
});
after(async () => {
  await server?.stop();
});

it('while the event loop lags: new REST calls get 503 with Retry-After, new WebSockets are closed with 1013, open ones keep working; then it recovers', async () => {
  const { shedder } = server.parley;
  await until('not shedding before the test blocks the loop', () => !shedder.shedding);
  const established = await WsTestClient.connect(server.wsUrl, { token: user.token });
  assert.equal((await established.request({ type: 'subscribe', roomId }, WAIT_MS)).ok, true);

  // The loop busy 250 ms at a time, with a moment between for everything else to run.
  const busy = setInterval(() => {
    const end = Date.now() + 250;
    while (Date.now() < end) {
      // Spinning on purpose: this is the lag under test.
    }
  }, 5);
  try {
    await until('shedding', () => shedder.shedding);

    const rest = await api(server.url, 'GET', '/api/v1/me', { token: user.token });
    assert.equal(rest.status, 503);
    assert.equal(rest.body.error.code, 'unavailable');
    assert.ok(Number(rest.headers.get('retry-after')) >= 1, 'Retry-After');

    const upgraded = await WsTestClient.connect(server.wsUrl, { token: user.token });
    assert.equal(await upgraded.closed(WAIT_MS), 1013);
    assert.match(upgraded.closeReason, /overloaded/);

    // The connection that was open is served: its send is stored and answered, and the event arrives.
    const sent = await established.request({ type: 'send', roomId, body: 'under load', clientMsgId: 'shed-1' }, WAIT_MS);
    assert.equal(sent.ok, true, JSON.stringify(sent));
    await established.waitFor((f) => f.type === 'event' && f.roomId === roomId && f.message?.body === 'under load', WAIT_MS);
    assert.equal(established.closeCode, null);

    // Observability is never shed.
    assert.equal((await api(server.url, 'GET', '/healthz')).status, 200);
    const ready = await api(server.url, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.shedding, true);
    const samples = await scrape(server.url);
    assert.ok(total(samples, 'parley_shed_total', { kind: 'rest' }) >= 1);
    assert.ok(total(samples, 'parley_shed_total', { kind: 'ws' }) >= 1);
    assert.equal(total(samples, 'parley_load_shedding'), 1);
    assert.ok(total(samples, 'parley_event_loop_lag_seconds') >= 0.08);
  } finally {
    clearInterval(busy);
  }

  await until('shedding stopped', () => !shedder.shedding);
  assert.equal((await api(server.url, 'GET', '/api/v1/me', { token: user.token })).status, 200);
  const fresh = await WsTestClient.connect(server.wsUrl, { token: user.token });
  assert.equal((await fresh.request({ type: 'subscribe', roomId }, WAIT_MS)).ok, true);
  assert.equal(fresh.closeCode, null);
  assert.deepEqual((await api(server.url, 'GET', '/readyz')).body, { status: 'ready' });
  fresh.close();
  established.close();
});
