/**
 * Outgoing webhooks against a real HTTP receiver that this test runs: it answers, fails, hangs
 * and recovers. Every event arrives at least once, each signature verifies, a failing endpoint
 * is retried until it answers, a hanging one never holds a send, a rotated secret signs beside
 * the previous one, 410 disables at once, and a day of failures disables too. Events committed
 * where no fan-out was enqueued are delivered by the sweep.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { newId } from '../../src/domain/ids.js';
import type { Job } from '../../src/ports.js';
import { verifySignature } from '../../src/webhooks/signing.js';
import { checkWebhookUrl, isSpecialAddress } from '../../src/webhooks/url.js';
import { Webhooks } from '../../src/webhooks/webhooks.js';
import { loadServerKey } from '../../src/secrets.js';
import type { Json } from '../support/json.js';
import { api, startTestServer, type TestServer } from '../support/server.js';

type Mode = 'ok' | 'fail' | 'hang' | 'gone';

interface Received {
  body: string;
  json: Json;
  headers: IncomingMessage['headers'];
}

class Receiver {
  readonly received: Received[] = [];
  mode: Mode = 'ok';
  hanging: ServerResponse[] = [];
  readonly #server: Server;
  url = '';

  constructor() {
    this.#server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        if (this.mode === 'hang') {
          this.hanging.push(res);
          return;
        }
        if (this.mode === 'fail') return void res.writeHead(500).end('down');
        if (this.mode === 'gone') return void res.writeHead(410).end('gone');
        this.received.push({ body, json: JSON.parse(body) as Json, headers: req.headers });
        res.writeHead(204).end();
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
  }

  release(): void {
    for (const res of this.hanging.splice(0)) res.destroy();
  }

  seqs(): number[] {
    return [...new Set(this.received.map((r) => r.json.seq as number))].sort((a, b) => a - b);
  }

  async stop(): Promise<void> {
    this.release();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

async function until<T>(what: string, poll: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await poll();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Each test is bounded on its own, so one that hangs is named and the rest still run (one once
 * held the whole file past its limit, with no word of which test it was).
 */
const EACH = { timeout: 120_000 };

describe('outgoing webhooks', () => {
  let server: TestServer;
  let receiver: Receiver;
  let owner: string;
  let member: string;
  let roomId: string;

  before(async () => {
    server = await startTestServer({
      WEBHOOK_ALLOW_PRIVATE: true,
      WEBHOOK_TIMEOUT_MS: 500,
      WEBHOOK_RETRY_BASE_MS: 50,
      WEBHOOK_RETRY_MAX_MS: 1_000,
      BREAKER_RESET_MS: 1_000,
      WEBHOOK_ATTEMPTS: 50,
      JOBS_POLL_MS: 25,
      SEND_RATE_PER_SEC: 10_000,
      SEND_BURST: 10_000,
    });
    receiver = new Receiver();
    await receiver.start();
    const register = async (username: string) => String((await api(server.url, 'POST', '/api/v1/auth/register', { body: { username, password: 'correct horse battery' } })).body.token);
    owner = await register('hook_owner');
    member = await register('hook_member');
    roomId = String((await api(server.url, 'POST', '/api/v1/rooms', { token: owner, body: { name: 'Hooked', visibility: 'public' } })).body.room.id);
    await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: member });
  });
  after(async () => {
    await receiver.stop();
    await server.stop();
  });

  const send = (token: string, body: string) => api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token, body: { body } });

  it('only https on public addresses, unless private endpoints are allowed', EACH, () => {
    assert.throws(() => checkWebhookUrl('http://example.com/x', false), /https/);
    assert.throws(() => checkWebhookUrl('https://127.0.0.1/x', false), /private/);
    assert.throws(() => checkWebhookUrl('https://[::1]/x', false), /private/);
    assert.throws(() => checkWebhookUrl('https://169.254.169.254/latest', false), /private/);
    assert.throws(() => checkWebhookUrl('https://localhost/x', false), /local/);
    assert.throws(() => checkWebhookUrl('https://user:pw@example.com/x', false), /credentials/);
    assert.throws(() => checkWebhookUrl('https://example.com:22/x', false), /port/);
    assert.equal(checkWebhookUrl('https://hooks.example.com/in?a=1', false), 'https://hooks.example.com/in?a=1');
    assert.equal(checkWebhookUrl('http://127.0.0.1:9/x', true), 'http://127.0.0.1:9/x');
    for (const a of ['10.1.2.3', '192.168.0.1', '::ffff:127.0.0.1', 'fd00::1', '100.64.0.1']) assert.ok(isSpecialAddress(a), a);
    for (const a of ['93.184.216.34', '2606:4700::1111']) assert.ok(!isSpecialAddress(a), a);
  });

  it('the owner registers an endpoint; others may not; its secret is shown once', EACH, async () => {
    assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/webhooks`, { token: member, body: { url: receiver.url } })).status, 403);
    assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/webhooks`, { token: owner, body: { url: 'ftp://x' } })).status, 400);
    const created = await api(server.url, 'POST', `/api/v1/rooms/${roomId}/webhooks`, { token: owner, body: { url: receiver.url, events: ['message', 'edit'] } });
    assert.equal(created.status, 201);
    assert.match(String(created.body.secret), /^whsec_/);
    const listed = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/webhooks`, { token: owner });
    assert.equal((listed.body.webhooks as Json[]).length, 1);
    assert.ok(!JSON.stringify(listed.body).includes(String(created.body.secret)), 'never shown again');
    hook = { id: String(created.body.webhook.id), secret: String(created.body.secret) };
  });

  let hook: { id: string; secret: string };

  it('delivers every event, signed, at least once; a failing endpoint is retried until it answers', EACH, async () => {
    for (let i = 0; i < 10; i++) assert.equal((await send(member, `hello ${i}`)).status, 201);
    await until('ten deliveries', () => receiver.seqs().length >= 10 || undefined);
    for (const r of receiver.received) {
      assert.ok(verifySignature(String(r.headers['parley-signature']), hook.secret, r.body), 'the signature verifies');
      assert.equal(r.json.webhookId, hook.id);
      assert.equal(r.json.type, 'message');
      assert.equal(r.headers['parley-delivery'], r.json.id);
    }
    assert.ok(!verifySignature(String(receiver.received[0]?.headers['parley-signature']), 'whsec_wrong', String(receiver.received[0]?.body)));
    // Down for a while: every event still arrives once it is back.
    receiver.mode = 'fail';
    const before = receiver.seqs().length;
    for (let i = 0; i < 5; i++) await send(member, `while down ${i}`);
    await until('failed attempts logged', async () => {
      const log = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/webhooks/${hook.id}/deliveries?limit=100`, { token: owner });
      return (log.body.deliveries as Json[]).filter((d) => d.ok === false && d.status === 500).length >= 5 || undefined;
    });
    const failing = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/webhooks`, { token: owner });
    assert.ok((failing.body.webhooks as Json[])[0]?.failingSince !== null);
    receiver.mode = 'ok';
    await until('the events sent while it was down', () => receiver.seqs().length >= before + 5 || undefined, 30_000);
    const healed = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/webhooks`, { token: owner });
    await until('failingSince cleared', async () => {
      const w = (await api(server.url, 'GET', `/api/v1/rooms/${roomId}/webhooks`, { token: owner })).body.webhooks as Json[];
      return w[0]?.failingSince === null || undefined;
    });
    assert.equal(healed.status, 200);
  });

  it('a hanging endpoint never holds a send', EACH, async () => {
    receiver.mode = 'hang';
    await send(member, 'into the void');
    await until('a delivery is hanging', () => receiver.hanging.length > 0 || undefined);
    // Sends are answered while deliveries hang.
    for (let i = 0; i < 10; i++) assert.equal((await send(member, `meanwhile ${i}`)).status, 201);
    assert.ok(receiver.hanging.length > 0, 'still hanging while the sends were answered');
    receiver.mode = 'ok';
    receiver.release();
    const before = receiver.seqs().length;
    await until('the hung events arrive after all', () => receiver.seqs().length >= before + 11 || undefined, 30_000);
  });

  it("a dead endpoint holds no other endpoint's deliveries", EACH, async () => {
    const other = new Receiver();
    await other.start();
    try {
      const otherRoom = String((await api(server.url, 'POST', '/api/v1/rooms', { token: owner, body: { name: 'Elsewhere', visibility: 'private' } })).body.room.id);
      await api(server.url, 'POST', `/api/v1/rooms/${otherRoom}/webhooks`, { token: owner, body: { url: other.url } });
      receiver.mode = 'hang';
      // More events for the dead endpoint than the process has delivery slots.
      for (let i = 0; i < 40; i++) await send(member, `to the dead one ${i}`);
      await until('deliveries hang', () => receiver.hanging.length > 0 || undefined);
      for (let i = 0; i < 5; i++) await api(server.url, 'POST', `/api/v1/rooms/${otherRoom}/messages`, { token: owner, body: { body: `elsewhere ${i}` } });
      await until('the other endpoint got its five while the first hangs', () => other.seqs().length >= 5 || undefined, 15_000);
    } finally {
      receiver.mode = 'ok';
      receiver.release();
      await other.stop();
    }
    const before = receiver.seqs().length;
    await until('the dead one catches up once back', () => receiver.seqs().length >= before + 40 || undefined, 60_000);
  });

  it("an endpoint's breaker opens while it fails and closes once it answers again", EACH, async () => {
    const failing = new Receiver();
    await failing.start();
    const transitions = async (to: string) => {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      return Number(new RegExp(`parley_breaker_transitions_total\\{breaker="webhook",to="${to}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
    };
    try {
      const room = String((await api(server.url, 'POST', '/api/v1/rooms', { token: owner, body: { name: 'Breaker', visibility: 'private' } })).body.room.id);
      // A new endpoint, so its breaker counts its failures only.
      await api(server.url, 'POST', `/api/v1/rooms/${room}/webhooks`, { token: owner, body: { url: failing.url } });
      const opened = await transitions('open');
      const closed = await transitions('closed');
      failing.mode = 'fail';
      for (let i = 0; i < 10; i++) await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: owner, body: { body: `failing ${i}` } });
      await until('the breaker opened', async () => ((await transitions('open')) > opened ? true : undefined));
      failing.mode = 'ok';
      await until('every event delivered once it answers', () => failing.seqs().length >= 10 || undefined, 60_000);
      await until('the breaker closed', async () => ((await transitions('closed')) > closed ? true : undefined));
    } finally {
      await failing.stop();
    }
  });

  it('a rotated secret signs beside the previous one; events it does not want are not sent', EACH, async () => {
    const rotated = await api(server.url, 'POST', `/api/v1/rooms/${roomId}/webhooks/${hook.id}/secret`, { token: owner });
    assert.equal(rotated.status, 200);
    const fresh = String(rotated.body.secret);
    assert.notEqual(fresh, hook.secret);
    const count = receiver.received.length;
    // A join is not among the kinds it asked for; the message after it is.
    const third = String((await api(server.url, 'POST', '/api/v1/auth/register', { body: { username: 'hook_third', password: 'correct horse battery' } })).body.token);
    await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: third });
    await send(third, 'after the rotation');
    const r = await until('the next delivery', () => receiver.received.slice(count).find((x) => (x.json.event as Json)?.message !== undefined && ((x.json.event as Json).message as Json).body === 'after the rotation'));
    const header = String(r.headers['parley-signature']);
    assert.equal(header.match(/v1=/g)?.length, 2);
    assert.ok(verifySignature(header, fresh, r.body));
    assert.ok(verifySignature(header, hook.secret, r.body));
    assert.ok(receiver.received.slice(count).every((x) => x.json.type === 'message'));
    hook.secret = fresh;
  });

  it('events committed without a fan-out (a process died after the commit) are delivered by the sweep', EACH, async () => {
    const { store } = server.parley.services;
    const me = (await api(server.url, 'GET', '/api/v1/me', { token: owner })).body.user as Json;
    const [outcome] = await store.append([{ kind: 'message', roomId, userId: String(me.id), id: newId(), body: 'missed by the writer', clientMsgId: null, at: Date.now() }]);
    assert.equal(outcome?.status, 'appended');
    const seq = outcome?.status === 'appended' ? outcome.event.seq : 0;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!receiver.seqs().includes(seq));
    await server.parley.services.webhooks.sweep();
    await until('the sweep delivered it', () => receiver.seqs().includes(seq) || undefined);
  });

  it('410 Gone disables the endpoint at once; its owner enables it again', EACH, async () => {
    receiver.mode = 'gone';
    await send(member, 'to a gone endpoint');
    await until('disabled', async () => {
      const w = (await api(server.url, 'GET', `/api/v1/rooms/${roomId}/webhooks`, { token: owner })).body.webhooks as Json[];
      return w[0]?.state === 'disabled' || undefined;
    });
    receiver.mode = 'ok';
    const count = receiver.received.length;
    await send(member, 'while disabled');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.received.length, count, 'nothing is sent to a disabled endpoint');
    const enabled = await api(server.url, 'POST', `/api/v1/rooms/${roomId}/webhooks/${hook.id}/enable`, { token: owner });
    assert.equal(enabled.body.webhook.state, 'active');
    await send(member, 'enabled again');
    await until('delivered again', () => receiver.received.slice(count).some((x) => ((x.json.event as Json).message as Json)?.body === 'enabled again') || undefined);
    assert.ok(!receiver.received.slice(count).some((x) => ((x.json.event as Json).message as Json)?.body === 'while disabled'), 'what it missed while disabled is not sent');
  });

  it('a webhook whose owner left the room sends nothing more, and is disabled', EACH, async () => {
    const room = String((await api(server.url, 'POST', '/api/v1/rooms', { token: member, body: { name: 'Left behind', visibility: 'public' } })).body.room.id);
    await api(server.url, 'POST', `/api/v1/rooms/${room}/join`, { token: owner });
    const created = await api(server.url, 'POST', `/api/v1/rooms/${room}/webhooks`, { token: member, body: { url: receiver.url } });
    assert.equal(created.status, 201);
    const count = receiver.received.length;
    await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: owner, body: { body: 'while they are here' } });
    await until('delivered', () => receiver.received.length > count || undefined);
    assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${room}/leave`, { token: member })).status, 204);
    const after = receiver.received.length;
    await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: owner, body: { body: 'after they left' } });
    await until('disabled', async () => ((await server.parley.services.store.findWebhook(String(created.body.webhook.id)))?.state === 'disabled' ? true : undefined));
    assert.ok(!receiver.received.slice(after).some((x) => ((x.json.event as Json).message as Json)?.body === 'after they left'));
  });

  it('a webhook whose creator a server administrator disabled sends nothing more, and is disabled', EACH, async () => {
    const creator = await api(server.url, 'POST', '/api/v1/auth/register', { body: { username: 'hook_creator', password: 'correct horse battery' } });
    const token = String(creator.body.token);
    const room = String((await api(server.url, 'POST', '/api/v1/rooms', { token, body: { name: 'Disabled creator', visibility: 'public' } })).body.room.id);
    await api(server.url, 'POST', `/api/v1/rooms/${room}/join`, { token: owner });
    const created = await api(server.url, 'POST', `/api/v1/rooms/${room}/webhooks`, { token, body: { url: receiver.url } });
    assert.equal(created.status, 201);
    const count = receiver.received.length;
    await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: owner, body: { body: 'before the disable' } });
    await until('delivered', () => receiver.received.length > count || undefined);
    const disabled = await server.parley.services.store.setUserDisabled(String(creator.body.user.id), Date.now());
    assert.ok(disabled);
    const after = receiver.received.length;
    await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: owner, body: { body: 'after the disable' } });
    const id = String(created.body.webhook.id);
    await until('disabled', async () => ((await server.parley.services.store.findWebhook(id))?.state === 'disabled' ? true : undefined));
    assert.match((await server.parley.services.store.findWebhook(id))?.disabledReason ?? '', /disabled by a server administrator/);
    assert.ok(!receiver.received.slice(after).some((x) => ((x.json.event as Json).message as Json)?.body === 'after the disable'));
  });

  it('an endpoint failing for a whole day is disabled', EACH, async () => {
    const { store, access, jobs } = server.parley.services;
    let now = Date.now();
    const key = loadServerKey('', server.dataDir);
    const clocked = new Webhooks(store, access, jobs, key, {
      allowPrivate: true,
      timeoutMs: 500,
      perRoomMax: 10,
      disableAfterMs: 24 * 3_600_000,
      secretGraceMs: 0,
      attempts: 5,
      backoff: { baseMs: 10, maxMs: 10 },
      perEndpointConcurrency: 4,
      breakers: { run: (_id, call) => call() },
      onError: () => undefined,
      now: () => now,
    });
    receiver.mode = 'fail';
    await store.updateWebhook(hook.id, { failingSince: null });
    const seq = (await send(member, 'a day of failures')).body.message.seq as number;
    const job = (): Job => ({ id: 'j', queue: 'webhook-deliver', payload: { webhookId: hook.id, seq }, key: null, attempt: 1, attempts: 5, enqueuedAt: now, signal: new AbortController().signal });
    await assert.rejects(clocked.deliver(job()), /delivery answered 500/);
    now += 25 * 3_600_000;
    await assert.rejects(clocked.deliver(job()), /failed for too long/);
    assert.equal((await store.findWebhook(hook.id))?.state, 'disabled');
    receiver.mode = 'ok';
  });
});
