/**
 * While PostgreSQL is down, every request that needs it is answered "retry later" in the
 * contract's words: REST 503 `unavailable` with Retry-After, WebSocket replies `unavailable`,
 * and a WebSocket upgrade whose token cannot be checked accepted and closed at once with 1013
 * (a browser cannot read the status of a refused upgrade; it sees a close code). The node
 * answers again as soon as the database is back.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { type PostgresCluster, requirePostgresBinaries, startPostgresCluster } from '../support/pg-cluster.js';
import { api, createRoom, registerUser, startTestServer, type TestServer } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

if (requirePostgresBinaries('PostgreSQL down')) {
  let cluster: PostgresCluster;
  let server: TestServer;

  before(async () => {
    cluster = await startPostgresCluster();
    server = await startTestServer({ DATABASE_URL: cluster.url, DATABASE_STATEMENT_TIMEOUT_MS: 2_000 });
  });
  after(async () => {
    await server?.stop();
    await cluster?.stop();
  });

  it('regression: with the database down, REST answers 503 with Retry-After, WebSocket replies are unavailable, and an upgrade is closed with 1013 instead of answered 500', async () => {
    const user = await registerUser(server.url, 'down');
    const roomId = await createRoom(server.url, user);
    const connected = await WsTestClient.connect(server.wsUrl, { token: user.token });
    assert.equal((await connected.request({ type: 'subscribe', roomId })).ok, true);
    // A token not used yet: checking it needs the database.
    const login = await api(server.url, 'POST', '/api/v1/auth/login', { body: { username: user.username, password: 'correct horse battery' } });
    const freshToken = login.body.token as string;

    await cluster.halt();
    try {
      const me = await api(server.url, 'GET', '/api/v1/me', { token: freshToken });
      assert.equal(me.status, 503);
      assert.equal(me.body.error.code, 'unavailable');
      assert.ok(Number(me.headers.get('retry-after')) >= 1);
      const rest = await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: user.token, body: { body: 'while down', clientMsgId: 'd1' } });
      assert.equal(rest.status, 503);
      assert.equal(rest.body.error.code, 'unavailable');
      assert.ok(rest.headers.get('retry-after') !== null);
      assert.equal((await api(server.url, 'GET', '/readyz')).status, 503);

      const send = await connected.request({ type: 'send', roomId, body: 'while down', clientMsgId: 'd2' }, 15_000);
      assert.equal(send.ok, false);
      assert.equal(send.error.code, 'unavailable');
      const resubscribe = await connected.request({ type: 'subscribe', roomId, since: 0 }, 15_000);
      assert.equal(resubscribe.ok, false);
      assert.equal(resubscribe.error.code, 'unavailable');

      const refused = await WsTestClient.connect(server.wsUrl, { token: freshToken });
      assert.equal(await refused.closed(), 1013);
      assert.match(refused.closeReason, /retry later/);
      // The connection that was open stays open: an outage fails requests, not connections.
      assert.equal(connected.closeCode, null);
    } finally {
      await cluster.start();
    }

    // Back: the same requests succeed, the retried send stored once.
    const deadline = Date.now() + 20_000;
    while ((await api(server.url, 'GET', '/readyz')).status !== 200) {
      assert.ok(Date.now() < deadline, 'not ready again');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await api(server.url, 'GET', '/api/v1/me', { token: freshToken })).status, 200);
    const first = await connected.request({ type: 'send', roomId, body: 'while down', clientMsgId: 'd2' });
    assert.equal(first.ok, true, JSON.stringify(first));
    const again = await connected.request({ type: 'send', roomId, body: 'while down', clientMsgId: 'd2' });
    assert.equal(again.message.seq, first.message.seq);
    const upgraded = await WsTestClient.connect(server.wsUrl, { token: freshToken });
    assert.equal((await upgraded.request({ type: 'subscribe', roomId })).ok, true);
    upgraded.close();
    connected.close();
  });
}
