/** A restart of the embedded server keeps users, rooms, messages and sessions. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { api, createRoom, registerUser, startTestServer } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';
import type { Json } from '../support/json.js';

describe('embedded restart', () => {
  it('keeps users, rooms, messages, read markers and sessions, and the stream goes on gapless', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-restart-'));
    try {
      const first = await startTestServer({ DATA_DIR: dataDir });
      const alice = await registerUser(first.url, 'ralice');
      const roomId = await createRoom(first.url, alice, 'private', 'Keeps');
      for (let i = 0; i < 3; i++) await api(first.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: `before ${i}` } });
      await api(first.url, 'POST', `/api/v1/rooms/${roomId}/read`, { token: alice.token, body: { seq: 3 } });
      await first.stop();

      const second = await startTestServer({ DATA_DIR: dataDir });
      try {
        const me = await api(second.url, 'GET', '/api/v1/me', { token: alice.token });
        assert.equal(me.status, 200, 'the session survived');
        assert.equal(me.body.user.id, alice.id);
        const login = await api(second.url, 'POST', '/api/v1/auth/login', { body: { username: alice.username, password: 'correct horse battery' } });
        assert.equal(login.status, 200);
        const rooms = await api(second.url, 'GET', '/api/v1/rooms', { token: alice.token });
        assert.deepEqual(rooms.body.rooms.map((r: Json) => [r.id, r.name, r.lastSeq, r.lastReadSeq]), [[roomId, 'Keeps', 4, 3]]);
        const history = await api(second.url, 'GET', `/api/v1/rooms/${roomId}/messages`, { token: alice.token });
        assert.deepEqual(history.body.messages.map((m: Json) => m.body), ['before 2', 'before 1', 'before 0']);
        const ws = await WsTestClient.connect(second.wsUrl, { token: alice.token });
        await ws.request({ type: 'subscribe', roomId, since: 2 });
        const sent = await ws.request({ type: 'send', roomId, body: 'after' });
        assert.equal(sent.message.seq, 5);
        await ws.waitFor((f) => f.type === 'event' && f.seq === 5);
        assert.deepEqual(ws.events(roomId).map((f) => f.seq), [3, 4, 5]);
        ws.close();
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
