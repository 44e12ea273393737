/**
 * History exports end to end on a real server: asked over REST, worked as a job, rendered in the
 * worker-thread pool a page at a time, progress as `job` events on the owner's WebSocket, and a
 * signed link that downloads the file without credentials — and stops working when it is
 * tampered with, when it expires, or when its owner leaves the room.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Json } from '../support/json.js';
import { api, startTestServer, type TestServer } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const PASSWORD = 'correct horse battery';

async function register(server: TestServer, username: string): Promise<string> {
  const res = await api(server.url, 'POST', '/api/v1/auth/register', { body: { username, password: PASSWORD } });
  assert.equal(res.status, 201);
  return String(res.body.token);
}

async function until<T>(what: string, poll: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await poll();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('history exports', () => {
  let server: TestServer;
  let alice: string;
  let bob: string;
  let room: string;
  const bodies: string[] = [];

  before(async () => {
    // Small pages, so an export of a few hundred messages crosses many of them.
    server = await startTestServer({ EXPORT_PAGE_SIZE: 37, SEND_RATE_PER_SEC: 100_000, SEND_BURST: 100_000 });
    alice = await register(server, 'alice_x');
    bob = await register(server, 'bob_x');
    room = String((await api(server.url, 'POST', '/api/v1/rooms', { token: alice, body: { name: 'Archive', visibility: 'private' } })).body.room.id);
    await api(server.url, 'POST', `/api/v1/rooms/${room}/members`, { token: alice, body: { username: 'bob_x' } });
    for (let i = 0; i < 300; i++) {
      const body = i === 7 ? '<script>alert("x")</script> & "quotes"' : `message ${i} ✓`;
      bodies.push(body);
      const res = await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: i % 2 ? bob : alice, body: { body } });
      assert.equal(res.status, 201);
    }
    // A deleted message is exported as a tombstone.
    assert.equal((await api(server.url, 'DELETE', `/api/v1/rooms/${room}/messages/12`, { token: alice })).status, 204);
  });
  after(async () => server.stop());

  it('exports NDJSON with progress events to the owner, and a link that downloads it without credentials', async () => {
    const ws = await WsTestClient.connect(server.wsUrl, { token: alice });
    try {
      const created = await api(server.url, 'POST', `/api/v1/rooms/${room}/exports`, { token: alice, body: { format: 'ndjson' } });
      assert.equal(created.status, 201);
      const id = String(created.body.export.id);
      const done = await ws.waitFor((f) => f.type === 'job' && (f.job as Json).id === id && (f.job as Json).state === 'done', 30_000);
      const job = done.job as Json;
      assert.equal(done.kind, 'export');
      assert.equal(job.progress, 1);
      assert.equal(job.messages, 300);
      const events = ws.frames.filter((f) => f.type === 'job' && (f.job as Json).id === id).map((f) => (f.job as Json).state);
      assert.equal(events[0], 'running');
      assert.ok(typeof job.downloadUrl === 'string');

      const res = await fetch(new URL(String(job.downloadUrl), server.url));
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-disposition') ?? '', /^attachment; filename="parley-.+\.ndjson"$/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      const lines = (await res.text()).trimEnd().split('\n').map((l) => JSON.parse(l) as Json);
      assert.equal(lines.length, 300);
      assert.deepEqual(
        lines.map((m) => m.seq),
        [...lines.map((m) => m.seq as number)].sort((a, b) => a - b),
      );
      const live = lines.filter((m) => !m.deleted).map((m) => m.body);
      assert.deepEqual(
        live,
        // Seq 1 and 2 are the two members joining: message i is seq i + 3.
        bodies.filter((_, i) => i + 3 !== 12),
      );
      const tombstone = lines.find((m) => m.seq === 12);
      assert.deepEqual([tombstone?.deleted, tombstone?.body], [true, '']);
    } finally {
      await ws.close();
    }
  });

  it('exports a readable HTML page with every text escaped', async () => {
    const created = await api(server.url, 'POST', `/api/v1/rooms/${room}/exports`, { token: bob, body: { format: 'html' } });
    const id = String(created.body.export.id);
    const job = await until('the export is done', async () => {
      const res = await api(server.url, 'GET', `/api/v1/exports/${id}`, { token: bob });
      return res.body.export.state === 'done' ? res.body.export : undefined;
    });
    const res = await fetch(new URL(String(job.downloadUrl), server.url));
    const html = await res.text();
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /sandbox/);
    assert.ok(html.startsWith('<!doctype html>'));
    assert.ok(!html.includes('<script>'), 'no markup from a message survives');
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;'));
    assert.equal(html.match(/<article /g)?.length, 300);
    assert.ok(html.includes('This message was deleted.'));
  });

  it('refuses strangers, tampered or expired links, and the link of one who left the room', async () => {
    const carol = await register(server, 'carol_x');
    assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${room}/exports`, { token: carol, body: { format: 'ndjson' } })).status, 404);
    const created = await api(server.url, 'POST', `/api/v1/rooms/${room}/exports`, { token: bob, body: { format: 'ndjson' } });
    const id = String(created.body.export.id);
    assert.equal((await api(server.url, 'GET', `/api/v1/exports/${id}`, { token: carol })).status, 404, "another's export is not found");
    const job = await until('the export is done', async () => {
      const res = await api(server.url, 'GET', `/api/v1/exports/${id}`, { token: bob });
      return res.body.export.state === 'done' ? res.body.export : undefined;
    });
    const link = new URL(String(job.downloadUrl), server.url);
    const tampered = new URL(link);
    tampered.searchParams.set('expires', String(Number(link.searchParams.get('expires')) + 1));
    assert.equal((await fetch(tampered)).status, 403);
    const expired = new URL(link);
    expired.searchParams.set('expires', String(Date.now() - 1_000));
    assert.equal((await fetch(expired)).status, 403, 'a past expiry fails (its signature too)');
    assert.equal((await fetch(link)).status, 200);
    assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${room}/leave`, { token: bob })).status, 204);
    assert.equal((await fetch(link)).status, 403, 'one who left the room loses the link');
  });

});
