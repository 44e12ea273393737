/**
 * The SDK against a real server: live delivery, and recovery through a server restart with
 * sends made while the server was down — every acknowledged message seen exactly once, in
 * order, by every client.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { applyEvent, type Message, ParleyClient, type StreamEvent } from '../../client/index.js';
import { api, createRoom, registerUser, startTestServer, type TestServer } from '../support/server.js';

const fast = { backoff: { initialMs: 50, maxMs: 500 }, requestTimeoutMs: 5000 };

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('client SDK against a real server', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-sdk-'));
  const clients: ParleyClient[] = [];
  let server: TestServer;
  after(async () => {
    for (const c of clients) await c.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers live, then recovers through a restart with no loss and no duplicate', async () => {
    server = await startTestServer({ DATA_DIR: dataDir, SEND_RATE_PER_SEC: 1000, SEND_BURST: 1000 });
    const port = Number(new URL(server.url).port);
    const alice = await registerUser(server.url, 'sdka');
    const bob = await registerUser(server.url, 'sdkb');
    const roomId = await createRoom(server.url, alice, 'public', 'sdk');
    await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });

    const a = new ParleyClient({ baseUrl: server.url, token: alice.token, WebSocket, ...fast });
    const b = new ParleyClient({ baseUrl: server.url, token: bob.token, WebSocket, ...fast });
    clients.push(a, b);
    const seen: StreamEvent[] = [];
    b.on('event', (e) => seen.push(e));
    await Promise.all([a.connect(), b.connect()]);
    await a.subscribe(roomId);
    const sub = await b.subscribe(roomId);
    assert.equal(sub.lastSeq, 2);

    const before = await Promise.all(Array.from({ length: 10 }, (_, i) => a.send(roomId, `before ${i}`)));
    assert.deepEqual(before.map((m) => m.seq), Array.from({ length: 10 }, (_, i) => 3 + i));
    await until(() => seen.length === 10, 'live events');

    // Restart on the same port and data; alice keeps sending while the server is down.
    await server.stop();
    const during = Array.from({ length: 5 }, (_, i) => a.send(roomId, `during ${i}`));
    server = await startTestServer({ DATA_DIR: dataDir, PORT: port, SEND_RATE_PER_SEC: 1000, SEND_BURST: 1000 });
    const acked = await Promise.all(during);
    assert.deepEqual(acked.map((m) => m.body), ['during 0', 'during 1', 'during 2', 'during 3', 'during 4']);
    const after = await Promise.all(Array.from({ length: 5 }, (_, i) => a.send(roomId, `after ${i}`)));

    await until(() => seen.length === 20, 'events after the restart');
    assert.deepEqual(seen.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => 3 + i));
    assert.deepEqual(
      seen.map((e) => e.message?.body),
      [...before.map((m) => m.body), ...acked.map((m) => m.body), ...after.map((m) => m.body)],
    );
    const history = await b.rest.history(roomId, { limit: 100 });
    assert.equal(history.messages.length, 20, 'each send stored once');
  });
  it('uploads a file, sends it attached, and another client reads it; a refused upload is a typed error', async () => {
    const files = await startTestServer({ SEND_RATE_PER_SEC: 1000, SEND_BURST: 1000 });
    try {
      const alice = await registerUser(files.url, 'sdkfa');
      const bob = await registerUser(files.url, 'sdkfb');
      const roomId = await createRoom(files.url, alice, 'public', 'sdk files');
      await api(files.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });
      const a = new ParleyClient({ baseUrl: files.url, token: alice.token, WebSocket, ...fast });
      const b = new ParleyClient({ baseUrl: files.url, token: bob.token, WebSocket, ...fast });
      clients.push(a, b);
      const seen: StreamEvent[] = [];
      b.on('event', (e) => seen.push(e));
      await Promise.all([a.connect(), b.connect()]);
      await Promise.all([a.subscribe(roomId), b.subscribe(roomId)]);

      const bytes = new TextEncoder().encode('minutes of the meeting\n');
      const upload = await a.rest.uploadFile(roomId, bytes, 'minutes.txt');
      assert.deepEqual({ name: upload.name, size: upload.size, contentType: upload.contentType }, { name: 'minutes.txt', size: bytes.length, contentType: 'text/plain' });
      const sent = await a.send(roomId, '', { attachments: [upload.id] });
      assert.deepEqual(sent.attachments, [upload]);
      await until(() => seen.some((e) => e.message?.attachments?.[0]?.id === upload.id), 'the message with its attachment');

      const read = await fetch(b.rest.fileUrl(upload.id), { headers: { authorization: `Bearer ${bob.token}` } });
      assert.equal(await read.text(), 'minutes of the meeting\n');
      const link = await b.rest.fileLink(upload.id);
      assert.equal(await (await fetch(link.url)).text(), 'minutes of the meeting\n');

      await assert.rejects(a.rest.uploadFile(roomId, new TextEncoder().encode('<html><script>x</script></html>'), 'x.txt'), (error: Error & { code?: string }) => error.code === 'unsupported_media_type');
      await assert.rejects(a.send(roomId, 'again', { attachments: [upload.id] }), (error: Error & { code?: string }) => error.code === 'validation_failed');
    } finally {
      await files.stop();
    }
  });

  it('threads and reactions: typed calls, and the live events folded give what REST reads give', async () => {
    const srv = await startTestServer({ SEND_RATE_PER_SEC: 1000, SEND_BURST: 1000 });
    try {
      const alice = await registerUser(srv.url, 'sdkta');
      const bob = await registerUser(srv.url, 'sdktb');
      const roomId = await createRoom(srv.url, alice, 'public', 'sdk threads');
      await api(srv.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });
      const a = new ParleyClient({ baseUrl: srv.url, token: alice.token, WebSocket, ...fast });
      const b = new ParleyClient({ baseUrl: srv.url, token: bob.token, WebSocket, ...fast });
      clients.push(a, b);
      const shown = new Map<number, Message>();
      let folded = 0;
      b.on('event', (e) => {
        for (const [seq, m] of applyEvent(shown, e, bob.id)) shown.set(seq, m);
        folded++;
      });
      await Promise.all([a.connect(), b.connect()]);
      await Promise.all([a.subscribe(roomId), b.subscribe(roomId)]);

      const root = await a.send(roomId, 'a root');
      const reply = await b.send(roomId, 'a reply', { threadRoot: root.seq });
      assert.equal(reply.threadRoot, root.seq);
      const viaRest = await a.rest.postMessage(roomId, 'a second reply', undefined, { threadRoot: root.seq });
      await a.react(roomId, root.seq, '👍');
      await b.react(roomId, root.seq, '👍');
      await b.rest.addReaction(roomId, root.seq, ':tada:');
      await b.unreact(roomId, root.seq, ':tada:');
      await b.rest.addReaction(roomId, reply.seq, '🎉');
      await a.delete(roomId, viaRest.seq);
      await assert.rejects(b.send(roomId, 'too deep', { threadRoot: reply.seq }), (error: Error & { code?: string }) => error.code === 'validation_failed');
      await until(() => folded === 9, 'every event folded');

      const history = await b.rest.history(roomId, { after: 0 });
      for (const m of history.messages.filter((x) => x.seq >= root.seq)) assert.deepEqual(shown.get(m.seq), m, `message ${m.seq} folded as REST reads it`);
      assert.deepEqual(shown.get(root.seq)?.reactions, [{ emoji: '👍', count: 2, me: true }]);
      assert.equal(shown.get(root.seq)?.replyCount, 1);

      // A client that joins later and replays the whole stream folds it to the same (events carry no counters to count twice).
      const c = new ParleyClient({ baseUrl: srv.url, token: bob.token, WebSocket, ...fast });
      clients.push(c);
      const replayed = new Map<number, Message>();
      c.on('event', (e) => {
        for (const [seq, m] of applyEvent(replayed, e, bob.id)) replayed.set(seq, m);
      });
      await c.connect();
      await c.subscribe(roomId, { since: 0 });
      await until(() => (c.lastSeq(roomId) ?? 0) >= viaRest.seq + 6, 'the replay');
      for (const m of history.messages) assert.deepEqual(replayed.get(m.seq), m, `message ${m.seq} replayed and folded as REST reads it`);

      const page = await a.rest.thread(roomId, root.seq, { limit: 10 });
      assert.deepEqual(
        page.replies.map((m) => m.body),
        ['a reply', ''],
      );
      const top = await a.rest.history(roomId, { topLevel: true });
      assert.ok(top.messages.every((m) => m.threadRoot === undefined));
      const followed = await a.rest.followedThreads({ limit: 5 });
      assert.deepEqual(
        followed.threads.map((t) => [t.roomId, t.root.seq, t.unread]),
        // Replying reads the thread up to one's reply: bob's came before alice's.
        [[roomId, root.seq, 0]],
      );
      assert.equal(await a.rest.markThreadRead(roomId, root.seq, reply.seq), viaRest.seq, 'the marker never moves back');
      await a.rest.unfollowThread(roomId, root.seq);
      assert.deepEqual((await a.rest.followedThreads()).threads, []);
      await a.rest.followThread(roomId, root.seq);
      assert.equal((await a.rest.followedThreads()).nextCursor, null);
      await b.rest.removeReaction(roomId, reply.seq, '🎉');
    } finally {
      await srv.stop();
    }
  });
});
