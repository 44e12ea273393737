/** A WebSocket does not outlive its session: when the session expires, the heartbeat closes it with 1008. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { hashToken } from '../../src/domain/ids.js';
import { registerUser, startTestServer, type TestServer } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

describe('session expiry', () => {
  let server: TestServer | undefined;
  after(async () => {
    await server?.stop();
  });

  it('regression: a connection whose session expires is closed with 1008', async () => {
    server = await startTestServer({ HEARTBEAT_INTERVAL_MS: 100 });
    const user = await registerUser(server.url, 'expiring');
    // The session ends in a moment (the shortest TTL one can configure is an hour).
    const db = new Sqlite(path.join(server.dataDir, 'parley.db'));
    db.prepare('UPDATE sessions SET expires_at = ? WHERE token_hash = ?').run(Date.now() + 600, hashToken(user.token));
    db.close();
    const client = await WsTestClient.connect(server.wsUrl, { token: user.token });
    assert.equal(await client.closed(5_000), 1008);
    assert.match(client.closeReason, /expired/);
  });
});
