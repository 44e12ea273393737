/**
 * Logs: JSON lines with a request id on every request and a connection id on every socket, the
 * user id once known, and never a password, a token, a cookie or a message body.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { it } from 'node:test';
import { startParley } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { createLogger } from '../../src/observability/log.js';
import { api } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

it('carry request, connection and user ids, and no secrets or bodies, even at debug level', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      done();
    },
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-logs-'));
  const config = testConfig({ PORT: 0, DATA_DIR: dir, LOG_LEVEL: 'debug' });
  const parley = await startParley(config, createLogger('debug', 'json', sink));
  try {
    const password = 'very secret password 42';
    const reg = await api(parley.url, 'POST', '/api/v1/auth/register', { body: { username: 'logged_user', password } });
    assert.equal(reg.status, 201);
    const token = reg.body.token as string;
    const userId = reg.body.user.id as string;
    const room = await api(parley.url, 'POST', '/api/v1/rooms', { token, body: { name: 'logs', visibility: 'public' } });
    const roomId = room.body.room.id as string;
    const body = 'a message body nobody may log';
    assert.equal((await api(parley.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token, body: { body } })).status, 201);
    assert.equal((await api(parley.url, 'GET', `/api/v1/rooms/${roomId}/messages`, { token, headers: { cookie: `parley_session=${token}` } })).status, 200);
    const ws = await WsTestClient.connect(`${parley.url.replace(/^http/, 'ws')}/ws`, { token });
    await ws.request({ type: 'send', roomId, body });
    ws.sendRaw('{broken');
    await ws.waitFor((f) => f.type === 'reply' && f.id === null);
    ws.close();
    await ws.closed();
    await new Promise((r) => setTimeout(r, 100));

    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(records.length > 5, 'debug logs were written');
    for (const line of lines) {
      assert.ok(!line.includes(password), `a password was logged: ${line}`);
      assert.ok(!line.includes(token), `a token was logged: ${line}`);
      assert.ok(!line.includes(body), `a message body was logged: ${line}`);
    }
    // Every request line names its request; those after authentication name the user.
    const requests = records.filter((r) => r.req !== undefined || r.res !== undefined);
    assert.ok(requests.length >= 4);
    assert.ok(requests.every((r) => typeof r.reqId === 'string' && r.reqId !== ''));
    assert.ok(records.some((r) => r.userId === userId && r.res !== undefined), 'no completed request names its user');
    // The socket's lines carry its connection id and user.
    const socket = records.filter((r) => r.msg === 'ws connected' || r.msg === 'ws closed');
    assert.equal(socket.length, 2);
    assert.ok(socket.every((r) => typeof r.connectionId === 'string' && r.userId === userId));
  } finally {
    await parley.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
