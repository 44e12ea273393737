/** The SDK's notification and block calls and events against a real server. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ParleyClient, ParleyError } from '../../client/index.js';
import type { NotificationEvent, NotificationsReadEvent } from '../../src/protocol/wire.js';
import { api, createRoom, registerUser, startTestServer, type TestServer } from '../support/server.js';

const fast = { backoff: { initialMs: 50, maxMs: 500 }, requestTimeoutMs: 5000 };

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('client SDK: notifications and blocks', () => {
  const clients: ParleyClient[] = [];
  let server: TestServer;
  after(async () => {
    for (const c of clients) await c.close();
    await server?.stop();
  });

  it('emits notifications, pages them, reads them, and blocks', async () => {
    server = await startTestServer({ JOBS_POLL_MS: 20 });
    const alice = await registerUser(server.url, 'sdkna');
    const bob = await registerUser(server.url, 'sdknb');
    const roomId = await createRoom(server.url, alice, 'public', 'sdk');
    await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });
    const a = new ParleyClient({ baseUrl: server.url, token: alice.token, WebSocket, ...fast });
    const b = new ParleyClient({ baseUrl: server.url, token: bob.token, WebSocket, ...fast });
    clients.push(a, b);
    const notified: NotificationEvent[] = [];
    const read: NotificationsReadEvent[] = [];
    b.on('notification', (e) => notified.push(e));
    b.on('notifications_read', (e) => read.push(e));
    await b.connect();
    const sent = await a.rest.postMessage(roomId, `@${bob.username} hello`);
    await until(() => notified.length === 1, 'the notification event');
    assert.equal(notified[0]?.notification.seq, sent.seq);
    const page = await b.rest.notifications({ limit: 10 });
    assert.equal(page.hasMore, false);
    assert.equal(page.notifications[0]?.id, notified[0]?.notification.id);
    assert.deepEqual(await b.rest.unreadNotifications(), { unread: 1 });
    await b.rest.markNotificationsRead(page.notifications[0]?.id as string);
    await until(() => read.length === 1, 'the read event');
    assert.deepEqual(await b.rest.unreadNotifications(), { unread: 0 });
    assert.deepEqual(await b.rest.setRoomNotifications(roomId, { level: 'none' }), { level: 'none', mutedUntil: null });
    assert.deepEqual(await b.rest.roomNotifications(roomId), { level: 'none', mutedUntil: null });
    await b.rest.setEmail('bob@example.com');
    assert.equal(await b.rest.email(), 'bob@example.com');
    assert.deepEqual(await b.rest.setNotificationSettings({ emailDigest: false }), { emailDigest: false });
    assert.deepEqual(await b.rest.notificationSettings(), { emailDigest: false });
    await b.rest.block(alice.id);
    assert.deepEqual((await b.rest.blocks()).map((x) => x.user.id), [alice.id]);
    const refused = await a.rest.openDm(bob.username).catch((e: unknown) => e);
    assert.ok(refused instanceof ParleyError);
    assert.equal(refused.code, 'forbidden');
    await b.rest.unblock(alice.id);
    assert.deepEqual(await b.rest.blocks(), []);
  });
});
