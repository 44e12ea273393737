/**
 * Real answers against the API reference. A scripted session calls every documented operation
 * on a real server, and each answer must parse with the schema its route declares: a success
 * with its response schema (strict: a field the reference does not name fails), an error with
 * the shared error shape, a code the route declares and that code's status. So neither the
 * reference nor the server can drift from the other. Then: validation errors answer exactly as
 * they did before routes were declared (the same messages, the same order of checks).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errorsOf, type RouteDeclaration, restApiOf } from '../../src/http/route.js';
import { ERRORS } from '../../src/protocol/catalogue.js';
import { views } from '../../src/protocol/responses.js';
import type { Json } from '../support/json.js';
import sharp from 'sharp';
import { startS3rver, type S3rverHandle } from '../support/s3rver.js';
import { makeDeadJob } from '../support/admin.js';
import { EXPORT_QUEUE } from '../../src/exports/exports.js';
import { type ApiResponse, api, startTestServer, type TestServer } from '../support/server.js';
import { CLICKHOUSE_SERVER, NATS_SERVER, requireBinary, type ServerHandle, startClickHouse, startNats } from '../support/services.js';

/** The analytics reports answer only with an event log and ClickHouse: both servers of the test's own. */
const analyticsServers = requireBinary(NATS_SERVER, 'nats-server', 'REST conformance (analytics)') && requireBinary(CLICKHOUSE_SERVER, 'clickhouse-server', 'REST conformance (analytics)');

/** The declared route that serves `method url`: a literal segment wins over a parameter (/rooms/public). */
function routeFor(routes: readonly RouteDeclaration[], method: string, url: string): RouteDeclaration | undefined {
  const pathname = url.split('?')[0] ?? '';
  const params = (r: RouteDeclaration) => (r.path.match(/:/g) ?? []).length;
  return routes
    .filter((r) => r.method === method && new RegExp(`^${r.path.replace(/:[A-Za-z0-9_]+/g, '[^/]+')}$`).test(pathname))
    .sort((a, b) => params(a) - params(b))[0];
}

/** Throws unless `res` is an answer `route` declares, in the shape it declares. */
function assertConforms(route: RouteDeclaration, res: ApiResponse<Json>): void {
  const what = `${route.operationId} answered ${res.status}`;
  if (res.status === route.status) {
    if (route.response === undefined) {
      assert.equal(res.body, '', `${what}: a body where none is declared`);
      return;
    }
    const parsed = route.response.safeParse(res.body);
    assert.ok(parsed.success, `${what}: the answer does not match its schema: ${parsed.error?.message}`);
    return;
  }
  if (route.otherAnswers?.[res.status] !== undefined) {
    assert.equal(res.body, '', `${what}: a body where none is declared`);
    return;
  }
  const parsed = views.Error.safeParse(res.body);
  assert.ok(parsed.success, `${what}: not in the error shape: ${JSON.stringify(res.body).slice(0, 200)}`);
  const { code } = parsed.data.error;
  assert.ok(errorsOf(route).includes(code), `${what} ${code}, which it does not declare`);
  assert.equal(res.status, ERRORS[code].status, `${what} with ${code}`);
}

describe('REST answers match the API reference', () => {
  let server: TestServer;
  let routes: readonly RouteDeclaration[];
  /** operationId → the statuses it answered. */
  const answered = new Map<string, Set<number>>();

  /** A call whose answer must conform to its route's declaration. */
  const call = async (method: string, url: string, options: Parameters<typeof api>[3] = {}): Promise<ApiResponse<Json>> => {
    const res = await api<Json>(server.url, method, url, options);
    const route = routeFor(routes, method, url);
    assert.ok(route !== undefined, `${method} ${url} matches no declared route`);
    assertConforms(route, res);
    const statuses = answered.get(route.operationId) ?? new Set<number>();
    statuses.add(res.status);
    answered.set(route.operationId, statuses);
    return res;
  };
  const expect = async (status: number, method: string, url: string, options: Parameters<typeof api>[3] = {}) => {
    const res = await call(method, url, options);
    assert.equal(res.status, status, `${method} ${url}: ${JSON.stringify(res.body).slice(0, 200)}`);
    return res;
  };

  let alice: { token: string; username: string; cookie: string };
  let bob: { token: string; username: string };
  let lobby: string;
  let secret: string;
  let dm: string;

  let s3: S3rverHandle;
  let nats: ServerHandle | undefined;
  let clickhouse: ServerHandle | undefined;

  before(async () => {
    // On S3-compatible storage, so that direct uploads (presigned) answer too.
    s3 = await startS3rver();
    let analytics = {};
    if (analyticsServers) {
      nats = await startNats({ jetStream: true });
      clickhouse = await startClickHouse();
      analytics = { EVENT_LOG: 'jetstream', EVENT_LOG_URL: nats.url, ANALYTICS: 'clickhouse', ANALYTICS_URL: clickhouse.url, ANALYTICS_FLUSH_MS: 100 };
    }
    // JetStream may still be starting when its port opens: the node's start is retried.
    for (let attempt = 0; ; attempt++) {
      try {
        server = await startServer(analytics);
        break;
      } catch (error) {
        if (attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    routes = restApiOf(server.parley.http).routes;
  });
  const startServer = (analytics: object) =>
    startTestServer({
      ...analytics,
      SEND_RATE_PER_SEC: 1,
      SEND_BURST: 40,
      AUTH_RATE_PER_MIN: 10_000,
      UNREAD_COUNT_CAP: 2,
      WEBHOOK_ALLOW_PRIVATE: true,
      FILE_STORAGE: 's3',
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    });
  after(async () => {
    await server?.stop();
    await s3?.stop();
    await clickhouse?.stop();
    await nats?.stop();
  });

  it('accounts', async () => {
    const a = await expect(201, 'POST', '/api/v1/auth/register', { body: { username: 'Alice_c', password: 'correct horse battery', displayName: 'Alice' } });
    const b = await expect(201, 'POST', '/api/v1/auth/register', { body: { username: 'bob_c', password: 'correct horse battery' } });
    await expect(409, 'POST', '/api/v1/auth/register', { body: { username: 'ALICE_C', password: 'correct horse battery' } });
    await expect(400, 'POST', '/api/v1/auth/register', { body: { username: 'ab', password: 'x' } });
    const login = await expect(200, 'POST', '/api/v1/auth/login', { body: { username: 'alice_c', password: 'correct horse battery' } });
    await expect(401, 'POST', '/api/v1/auth/login', { body: { username: 'alice_c', password: 'wrong password' } });
    alice = { token: a.body.token, username: 'alice_c', cookie: (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '' };
    bob = { token: b.body.token, username: 'bob_c' };
    await expect(200, 'GET', '/api/v1/me', { token: alice.token });
    await expect(200, 'GET', '/api/v1/me', { headers: { cookie: alice.cookie } });
    await expect(401, 'GET', '/api/v1/me');
  });

  it('rooms', async () => {
    lobby = (await expect(201, 'POST', '/api/v1/rooms', { token: alice.token, body: { name: 'Lobby', visibility: 'public', topic: 'Anything' } })).body.room.id;
    // By the session cookie, from the server's own origin; without an Origin it is refused.
    const origin = server.url;
    secret = (await expect(201, 'POST', '/api/v1/rooms', { headers: { cookie: alice.cookie, origin }, body: { name: 'Secret', visibility: 'private' } })).body.room.id;
    await expect(403, 'POST', '/api/v1/rooms', { headers: { cookie: alice.cookie }, body: { name: 'Nope', visibility: 'private' } });
    await expect(400, 'POST', '/api/v1/rooms', { token: alice.token, body: { name: 'x', visibility: 'secret' } });
    await expect(200, 'GET', '/api/v1/rooms/public?q=lob&limit=5', { token: bob.token });
    await expect(200, 'GET', '/api/v1/rooms/public?q=l', { token: bob.token });
    await expect(200, 'GET', `/api/v1/rooms/${lobby}`, { token: bob.token });
    await expect(404, 'GET', `/api/v1/rooms/${secret}`, { token: bob.token });
    await expect(200, 'POST', `/api/v1/rooms/${lobby}/join`, { token: bob.token });
    await expect(404, 'POST', `/api/v1/rooms/${secret}/join`, { token: bob.token });
    await expect(200, 'POST', `/api/v1/rooms/${secret}/members`, { token: alice.token, body: { username: bob.username } });
    await expect(404, 'POST', `/api/v1/rooms/${secret}/members`, { token: alice.token, body: { username: 'nobody_here' } });
    await expect(200, 'GET', `/api/v1/rooms/${secret}/members`, { token: bob.token });
    dm = (await expect(200, 'POST', '/api/v1/dms', { token: alice.token, body: { username: bob.username } })).body.room.id;
    await expect(400, 'POST', '/api/v1/dms', { token: alice.token, body: { username: alice.username } });
    await expect(403, 'POST', `/api/v1/rooms/${dm}/members`, { token: alice.token, body: { username: 'nobody_here' } });
    await expect(409, 'POST', `/api/v1/rooms/${dm}/leave`, { token: alice.token });
  });

  it('messages', async () => {
    const first = await expect(201, 'POST', `/api/v1/rooms/${lobby}/messages`, { token: alice.token, body: { body: 'hello kangaroo', clientMsgId: 'c-1' } });
    await expect(201, 'POST', `/api/v1/rooms/${lobby}/messages`, { token: alice.token, body: { body: 'hello kangaroo', clientMsgId: 'c-1' } });
    for (let i = 0; i < 3; i++) await expect(201, 'POST', `/api/v1/rooms/${lobby}/messages`, { token: bob.token, body: { body: `reply ${i}` } });
    const mine = await expect(200, 'GET', '/api/v1/rooms', { token: alice.token });
    assert.equal(mine.body.rooms.find((r: Json) => r.id === lobby).unreadCapped, true, 'the optional field is exercised');
    const seq = first.body.message.seq;
    await expect(200, 'GET', `/api/v1/rooms/${lobby}/messages?limit=2`, { token: bob.token });
    await expect(200, 'GET', `/api/v1/rooms/${lobby}/messages?after=0`, { token: bob.token });
    await expect(400, 'GET', `/api/v1/rooms/${lobby}/messages?before=3&after=1`, { token: bob.token });
    await expect(200, 'PATCH', `/api/v1/rooms/${lobby}/messages/${seq}`, { token: alice.token, body: { body: 'hello, kangaroo' } });
    await expect(403, 'PATCH', `/api/v1/rooms/${lobby}/messages/${seq}`, { token: bob.token, body: { body: 'hijack' } });
    await expect(204, 'POST', `/api/v1/rooms/${lobby}/read`, { token: alice.token, body: { seq: seq + 1 } });
    await expect(200, 'GET', '/api/v1/search?q=kangar', { token: bob.token });
    await expect(200, 'GET', `/api/v1/search?q=reply&roomId=${lobby}&limit=2`, { token: bob.token });
    await expect(400, 'GET', '/api/v1/search?q=%22%26', { token: bob.token });
    await expect(204, 'DELETE', `/api/v1/rooms/${lobby}/messages/${seq}`, { token: alice.token });
    const page = await expect(200, 'GET', `/api/v1/rooms/${lobby}/messages`, { token: alice.token });
    assert.equal(page.body.messages.find((m: Json) => m.seq === seq).deleted, true, 'a tombstone is exercised');
    await expect(404, 'DELETE', `/api/v1/rooms/${lobby}/messages/${seq}`, { token: alice.token });
    await expect(413, 'POST', `/api/v1/rooms/${lobby}/messages`, { token: alice.token, body: { body: 'x'.repeat(70_000) } });
  });

  it('threads and reactions', async () => {
    const root = (await expect(201, 'POST', `/api/v1/rooms/${secret}/messages`, { token: alice.token, body: { body: 'a thread' } })).body.message;
    const reply = await expect(201, 'POST', `/api/v1/rooms/${secret}/messages`, { token: bob.token, body: { body: 'in it', threadRoot: root.seq } });
    assert.equal(reply.body.message.threadRoot, root.seq);
    await expect(400, 'POST', `/api/v1/rooms/${secret}/messages`, { token: bob.token, body: { body: 'deeper', threadRoot: reply.body.message.seq } });
    const emoji = encodeURIComponent('👍');
    await expect(204, 'PUT', `/api/v1/rooms/${secret}/messages/${root.seq}/reactions/${emoji}`, { token: bob.token });
    await expect(400, 'PUT', `/api/v1/rooms/${secret}/messages/${root.seq}/reactions/nope`, { token: bob.token });
    const thread = await expect(200, 'GET', `/api/v1/rooms/${secret}/threads/${root.seq}`, { token: alice.token });
    assert.deepEqual(thread.body.root.reactions, [{ emoji: '👍', count: 1, me: false }], 'the optional fields are exercised');
    assert.equal(thread.body.root.replyCount, 1);
    await expect(404, 'GET', `/api/v1/rooms/${secret}/threads/${reply.body.message.seq}`, { token: alice.token });
    await expect(200, 'GET', `/api/v1/rooms/${secret}/messages?topLevel=true`, { token: alice.token });
    await expect(200, 'GET', '/api/v1/threads?limit=1', { token: alice.token });
    await expect(200, 'POST', `/api/v1/rooms/${secret}/threads/${root.seq}/read`, { token: alice.token, body: { seq: reply.body.message.seq } });
    await expect(204, 'DELETE', `/api/v1/rooms/${secret}/threads/${root.seq}/follow`, { token: alice.token });
    await expect(204, 'PUT', `/api/v1/rooms/${secret}/threads/${root.seq}/follow`, { token: alice.token });
    await expect(204, 'DELETE', `/api/v1/rooms/${secret}/messages/${root.seq}/reactions/${emoji}`, { token: bob.token });
  });

  it('exports and retention', async () => {
    const created = await expect(201, 'POST', `/api/v1/rooms/${lobby}/exports`, { token: alice.token, body: { format: 'ndjson' } });
    await expect(400, 'POST', `/api/v1/rooms/${lobby}/exports`, { token: alice.token, body: { format: 'pdf' } });
    await expect(404, 'POST', '/api/v1/rooms/no-such-room/exports', { token: alice.token, body: { format: 'html' } });
    const id = created.body.export.id;
    let done: Json = created.body.export;
    for (let i = 0; i < 200 && done.state !== 'done'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      done = (await expect(200, 'GET', `/api/v1/exports/${id}`, { token: alice.token })).body.export;
    }
    assert.equal(done.state, 'done');
    await expect(404, 'GET', `/api/v1/exports/${id}`, { token: bob.token });
    const link = new URL(done.downloadUrl, server.url);
    await expect(200, 'GET', `${link.pathname}${link.search}`);
    // The signature with its first character changed (to another one: a signature may begin with A).
    await expect(403, 'GET', `${link.pathname}${link.search.replace(/signature=(.)/, (_, c: string) => `signature=${c === 'A' ? 'B' : 'A'}`)}`);
    await expect(400, 'GET', `/api/v1/exports/${id}/download?expires=1`);
    await expect(200, 'GET', `/api/v1/rooms/${lobby}/retention`, { token: bob.token });
    await expect(200, 'PUT', `/api/v1/rooms/${lobby}/retention`, { token: alice.token, body: { days: 30 } });
    await expect(200, 'PUT', `/api/v1/rooms/${lobby}/retention`, { token: alice.token, body: { days: null } });
    await expect(403, 'PUT', `/api/v1/rooms/${lobby}/retention`, { token: bob.token, body: { days: 30 } });
    await expect(400, 'PUT', `/api/v1/rooms/${lobby}/retention`, { token: alice.token, body: { days: 0 } });
  });

  it('webhooks', async () => {
    const base = `/api/v1/rooms/${lobby}/webhooks`;
    const created = await expect(201, 'POST', base, { token: alice.token, body: { url: 'http://127.0.0.1:9/hook', events: ['message'] } });
    await expect(400, 'POST', base, { token: alice.token, body: { url: 'gopher://x' } });
    await expect(403, 'POST', base, { token: bob.token, body: { url: 'http://127.0.0.1:9/hook' } });
    const id = created.body.webhook.id;
    await expect(200, 'GET', base, { token: alice.token });
    await expect(200, 'POST', `${base}/${id}/secret`, { token: alice.token });
    await expect(200, 'POST', `${base}/${id}/enable`, { token: alice.token });
    await expect(200, 'GET', `${base}/${id}/deliveries?limit=5`, { token: alice.token });
    await expect(404, 'GET', `${base}/no-such-hook/deliveries`, { token: alice.token });
    await expect(204, 'DELETE', `${base}/${id}`, { token: alice.token });
    await expect(404, 'DELETE', `${base}/${id}`, { token: alice.token });
  });

  it('bots and incoming webhooks', async () => {
    const created = await expect(201, 'POST', '/api/v1/bots', { token: alice.token, body: { username: 'ci_bot_c', displayName: 'CI' } });
    await expect(409, 'POST', '/api/v1/bots', { token: alice.token, body: { username: bob.username } });
    await expect(400, 'POST', '/api/v1/bots', { token: alice.token, body: { username: 'ci_bot_d', token: 'mine' } });
    const botId = created.body.bot.id;
    await expect(200, 'GET', '/api/v1/bots', { token: alice.token });
    const bot = (await expect(200, 'POST', `/api/v1/bots/${botId}/token`, { token: alice.token })).body.token;
    await expect(404, 'POST', `/api/v1/bots/${botId}/token`, { token: bob.token });
    const me = await expect(200, 'GET', '/api/v1/me', { token: bot });
    assert.equal(me.body.user.bot, true, 'the optional field is exercised');
    await expect(403, 'GET', '/api/v1/rooms/public', { token: bot });
    await expect(403, 'GET', `/api/v1/rooms/${lobby}`, { token: bot });
    await expect(403, 'GET', `/api/v1/rooms/${lobby}/members`, { token: bot });
    await expect(403, 'POST', '/api/v1/dms', { token: bot, body: { username: alice.username } });
    await expect(200, 'POST', `/api/v1/rooms/${secret}/members`, { token: alice.token, body: { username: 'ci_bot_c' } });
    const made = await expect(201, 'POST', `/api/v1/rooms/${secret}/incoming-webhooks`, { token: alice.token, body: { name: 'Deploys' } });
    await expect(201, 'POST', `/api/v1/rooms/${secret}/incoming-webhooks`, { token: alice.token, body: { name: 'Alerts', botId } });
    await expect(404, 'POST', `/api/v1/rooms/${secret}/incoming-webhooks`, { token: bob.token, body: { name: 'Theft', botId } });
    await expect(403, 'POST', `/api/v1/rooms/${dm}/incoming-webhooks`, { token: alice.token, body: { name: 'Nope' } });
    await expect(404, 'POST', '/api/v1/rooms/no-such-room/incoming-webhooks', { token: alice.token, body: { name: 'Nope' } });
    await expect(200, 'GET', `/api/v1/rooms/${secret}/incoming-webhooks`, { token: bob.token });
    const posted = await expect(201, 'POST', made.body.url, { body: { text: 'deployed', clientMsgId: 'd-1' } });
    assert.equal(posted.body.message.author.bot, true);
    await expect(404, 'POST', '/api/v1/hooks/no-such-secret', { body: { text: 'deployed' } });
    await expect(400, 'POST', made.body.url, { body: { text: ' ' } });
    await expect(403, 'DELETE', `/api/v1/rooms/${secret}/incoming-webhooks/${made.body.webhook.id}`, { token: bob.token });
    await expect(204, 'DELETE', `/api/v1/rooms/${secret}/incoming-webhooks/${made.body.webhook.id}`, { token: alice.token });
    await expect(204, 'DELETE', `/api/v1/bots/${botId}`, { token: alice.token });
    await expect(404, 'DELETE', `/api/v1/bots/${botId}`, { token: bob.token });
  });

  it('files and avatars', async () => {
    const octets = { 'content-type': 'application/octet-stream' };
    const png = await sharp({ create: { width: 600, height: 400, channels: 3, background: '#3a6' } }).png().toBuffer();
    const image = await expect(201, 'POST', `/api/v1/rooms/${secret}/uploads?name=chart.png`, { token: alice.token, rawBody: png, headers: octets });
    assert.ok(image.body.upload.thumbnail, 'the optional fields are exercised');
    await expect(415, 'POST', `/api/v1/rooms/${secret}/uploads?name=page.png`, { token: alice.token, rawBody: '<html><script>1</script></html>', headers: octets });
    await expect(401, 'POST', `/api/v1/rooms/${dm}/uploads?name=x.txt`, { token: 'nope', rawBody: 'x', headers: octets });
    // Straight to storage, then confirmed.
    const bytes = Buffer.from('a direct upload\n');
    const direct = await expect(201, 'POST', `/api/v1/rooms/${secret}/uploads/direct`, { token: alice.token, body: { name: 'direct.txt', size: bytes.length } });
    await expect(409, 'POST', `/api/v1/uploads/${direct.body.upload.id}/complete`, { token: alice.token });
    const put = await fetch(direct.body.upload.url, { method: 'PUT', headers: direct.body.upload.headers, body: new Uint8Array(bytes) });
    assert.equal(put.status, 200);
    const confirmed = await expect(200, 'POST', `/api/v1/uploads/${direct.body.upload.id}/complete`, { token: alice.token });
    assert.equal(confirmed.body.upload.contentType, 'text/plain');
    const sent = await expect(201, 'POST', `/api/v1/rooms/${secret}/messages`, { token: alice.token, body: { body: '', attachments: [image.body.upload.id, direct.body.upload.id] } });
    assert.equal(sent.body.message.attachments.length, 2);
    const id = image.body.upload.id;
    await expect(200, 'GET', `/api/v1/files/${id}`, { token: bob.token });
    await expect(200, 'GET', `/api/v1/files/${id}/thumbnail`, { token: bob.token });
    await expect(416, 'GET', `/api/v1/files/${id}`, { token: bob.token, headers: { range: 'bytes=999999999-' } });
    const link = await expect(200, 'GET', `/api/v1/files/${id}/link`, { token: bob.token });
    await expect(200, 'GET', link.body.url);
    await expect(403, 'GET', String(link.body.url).replace(/signature=[^&]+/, 'signature=x'));
    const thumbLink = await expect(200, 'GET', `/api/v1/files/${id}/thumbnail/link`, { token: bob.token });
    await expect(200, 'GET', thumbLink.body.url);
    await expect(401, 'GET', `/api/v1/files/${id}/link`, { token: 'x' });
    const spare = await expect(201, 'POST', `/api/v1/rooms/${secret}/uploads?name=spare.txt`, { token: alice.token, rawBody: 'spare', headers: octets });
    await expect(404, 'DELETE', `/api/v1/uploads/${spare.body.upload.id}`, { token: bob.token });
    await expect(204, 'DELETE', `/api/v1/uploads/${spare.body.upload.id}`, { token: alice.token });
    await expect(409, 'DELETE', `/api/v1/uploads/${id}`, { token: alice.token });
    // Avatars.
    await expect(204, 'PUT', '/api/v1/me/avatar', { token: alice.token, rawBody: png, headers: octets });
    await expect(415, 'PUT', '/api/v1/me/avatar', { token: alice.token, rawBody: 'text', headers: octets });
    await expect(200, 'GET', `/api/v1/users/${sent.body.message.author.id}/avatar`, { token: bob.token });
    await expect(204, 'DELETE', '/api/v1/me/avatar', { token: alice.token });
    await expect(404, 'GET', `/api/v1/users/${sent.body.message.author.id}/avatar`, { token: bob.token });
    await expect(403, 'PUT', `/api/v1/rooms/${secret}/avatar`, { token: bob.token, rawBody: png, headers: octets });
    await expect(204, 'PUT', `/api/v1/rooms/${secret}/avatar`, { token: alice.token, rawBody: png, headers: octets });
    await expect(200, 'GET', `/api/v1/rooms/${secret}/avatar`, { token: bob.token });
    await expect(204, 'DELETE', `/api/v1/rooms/${secret}/avatar`, { token: alice.token });
    await expect(404, 'GET', `/api/v1/rooms/${secret}/avatar`, { token: bob.token });
  });

  it('people', async () => {
    const expires = new Date(Date.now() + 3_600_000).toISOString();
    const me = await expect(200, 'PATCH', '/api/v1/me', { token: alice.token, body: { displayName: 'Alice C', statusText: 'Reviewing', statusExpiresAt: expires } });
    assert.equal(me.body.user.statusExpiresAt, expires, 'the optional fields are exercised');
    await expect(400, 'PATCH', '/api/v1/me', { token: alice.token, body: {} });
    await expect(409, 'PATCH', '/api/v1/me', { token: alice.token, body: { displayName: bob.username } });
    const found = await expect(200, 'GET', '/api/v1/users?q=alice_c&limit=1', { token: bob.token });
    assert.equal(found.body.users[0].statusText, 'Reviewing');
    await expect(200, 'GET', `/api/v1/users?q=${encodeURIComponent('@b')}`, { token: bob.token });
    await expect(400, 'GET', '/api/v1/users?q=b&after=nope', { token: bob.token });
    await expect(200, 'GET', `/api/v1/users/${found.body.users[0].id}`, { token: bob.token });
    await expect(404, 'GET', '/api/v1/users/no-such-user', { token: bob.token });
    const page = await expect(200, 'GET', `/api/v1/rooms/${secret}/members?limit=1`, { token: bob.token });
    assert.equal(typeof page.body.next, 'string');
    await expect(200, 'GET', `/api/v1/rooms/${secret}/members?after=${encodeURIComponent(page.body.next)}`, { token: bob.token });
    await expect(400, 'GET', `/api/v1/rooms/${secret}/members?limit=0`, { token: bob.token });
  });

  it('moderation', async () => {
    const bobId = String((await expect(200, 'GET', '/api/v1/me', { token: bob.token })).body.user.id);
    const room = (await expect(201, 'POST', '/api/v1/rooms', { token: alice.token, body: { name: 'Moderated', visibility: 'public' } })).body.room.id;
    await expect(200, 'POST', `/api/v1/rooms/${room}/join`, { token: bob.token });
    await expect(200, 'PATCH', `/api/v1/rooms/${room}`, { token: alice.token, body: { name: 'Renamed', topic: 'Rules apply' } });
    await expect(400, 'PATCH', `/api/v1/rooms/${room}`, { token: alice.token, body: {} });
    await expect(403, 'PATCH', `/api/v1/rooms/${room}`, { token: bob.token, body: { topic: 'mine now' } });
    await expect(204, 'PUT', `/api/v1/rooms/${room}/members/${bobId}/role`, { token: alice.token, body: { role: 'admin' } });
    await expect(204, 'PUT', `/api/v1/rooms/${room}/members/${bobId}/role`, { token: alice.token, body: { role: 'member' } });
    await expect(204, 'PUT', `/api/v1/rooms/${room}/mutes/${bobId}`, { token: alice.token, body: { durationS: 60, reason: 'cool down' } });
    await expect(204, 'DELETE', `/api/v1/rooms/${room}/mutes/${bobId}`, { token: alice.token });
    await expect(204, 'POST', `/api/v1/rooms/${room}/members/${bobId}/kick`, { token: alice.token });
    await expect(404, 'POST', `/api/v1/rooms/${room}/members/${bobId}/kick`, { token: alice.token, body: { reason: 'again' } });
    await expect(204, 'PUT', `/api/v1/rooms/${room}/bans/${bobId}`, { token: alice.token });
    await expect(403, 'POST', `/api/v1/rooms/${room}/join`, { token: bob.token });
    await expect(200, 'GET', `/api/v1/rooms/${room}/restrictions`, { token: alice.token });
    await expect(403, 'GET', `/api/v1/rooms/${room}/restrictions`, { token: bob.token });
    await expect(204, 'DELETE', `/api/v1/rooms/${room}/bans/${bobId}`, { token: alice.token });
    await expect(200, 'POST', `/api/v1/rooms/${room}/archive`, { token: alice.token });
    await expect(403, 'POST', `/api/v1/rooms/${room}/join`, { token: bob.token });
    await expect(200, 'POST', `/api/v1/rooms/${room}/unarchive`, { token: alice.token });
    const page = await expect(200, 'GET', `/api/v1/rooms/${room}/audit?limit=3`, { token: alice.token });
    await expect(200, 'GET', `/api/v1/rooms/${room}/audit?before=${page.body.nextBefore}`, { token: alice.token });
    await expect(400, 'GET', `/api/v1/rooms/${room}/audit?limit=0`, { token: alice.token });
    await expect(404, 'GET', '/api/v1/rooms/no-such-room/audit', { token: bob.token });
  });

  it('notifications, preferences, blocks and e-mail', async () => {
    const mention = await expect(201, 'POST', `/api/v1/rooms/${secret}/messages`, { token: alice.token, body: { body: `@${bob.username} look` } });
    let page: ApiResponse<Json> | undefined;
    for (let i = 0; i < 200; i++) {
      page = await expect(200, 'GET', '/api/v1/notifications?limit=10', { token: bob.token });
      if (page.body.notifications.length > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const first = page?.body.notifications[0];
    assert.equal(first?.seq, mention.body.message.seq);
    await expect(200, 'GET', `/api/v1/notifications?after=0&limit=5`, { token: bob.token });
    await expect(400, 'GET', '/api/v1/notifications?before=1&after=2', { token: bob.token });
    const count = await expect(200, 'GET', '/api/v1/notifications/unread-count', { token: bob.token });
    assert.ok(count.body.unread >= 1);
    await expect(204, 'POST', '/api/v1/notifications/read', { token: bob.token, body: { upTo: first.id } });
    await expect(400, 'POST', '/api/v1/notifications/read', { token: bob.token, body: { upTo: 'x' } });
    await expect(200, 'GET', `/api/v1/rooms/${secret}/notifications`, { token: bob.token });
    await expect(200, 'PUT', `/api/v1/rooms/${secret}/notifications`, { token: bob.token, body: { level: 'all', mutedUntil: new Date(Date.now() + 60_000).toISOString() } });
    await expect(400, 'PUT', `/api/v1/rooms/${secret}/notifications`, { token: bob.token, body: { level: 'loud' } });
    await expect(404, 'GET', '/api/v1/rooms/no-such-room/notifications', { token: bob.token });
    await expect(200, 'GET', '/api/v1/me/email', { token: bob.token });
    await expect(200, 'PUT', '/api/v1/me/email', { token: bob.token, body: { email: 'bob@example.com' } });
    await expect(400, 'PUT', '/api/v1/me/email', { token: bob.token, body: { email: 'nope' } });
    await expect(200, 'GET', '/api/v1/me/notification-settings', { token: bob.token });
    await expect(200, 'PUT', '/api/v1/me/notification-settings', { token: bob.token, body: { emailDigest: false } });
    const aliceId = mention.body.message.author.id;
    await expect(204, 'PUT', `/api/v1/me/blocks/${aliceId}`, { token: bob.token });
    await expect(404, 'PUT', '/api/v1/me/blocks/no-such-user', { token: bob.token });
    await expect(200, 'GET', '/api/v1/me/blocks', { token: bob.token });
    const refused = await expect(403, 'POST', `/api/v1/rooms/${dm}/messages`, { token: alice.token, body: { body: 'blocked' } });
    assert.equal(refused.body.error.details.reason, 'blocked');
    await expect(403, 'POST', '/api/v1/dms', { token: alice.token, body: { username: bob.username } });
    await expect(204, 'DELETE', `/api/v1/me/blocks/${aliceId}`, { token: bob.token });
  });

  it('leaving, rate limits, logging out and the reference itself', async () => {
    await expect(204, 'POST', `/api/v1/rooms/${lobby}/leave`, { token: bob.token });
    await expect(403, 'GET', `/api/v1/rooms/${lobby}/messages`, { token: bob.token });
    await expect(403, 'POST', `/api/v1/rooms/${lobby}/messages`, { token: bob.token, body: { body: 'let me in' } });
    let status = 0;
    for (let i = 0; i < 60 && status !== 429; i++) status = (await call('POST', `/api/v1/rooms/${dm}/messages`, { token: alice.token, body: { body: `burst ${i}` } })).status;
    assert.equal(status, 429, 'the send burst ran out');
    await expect(200, 'GET', '/api/v1/openapi.json');
    await expect(200, 'GET', '/api/v1/docs');
    await expect(204, 'POST', '/api/v1/auth/logout', { token: alice.token });
    await expect(401, 'POST', '/api/v1/auth/logout', { token: alice.token });
  });

  it('administration: the analytics reports, for server administrators only', async () => {
    const reports = ['messages', 'active-users', 'busiest-rooms', 'busiest-hours', 'delivery-latency'];
    const me = await api<Json>(server.url, 'GET', '/api/v1/me', { token: bob.token });
    assert.equal(await server.parley.services.store.setServerRole(me.body.user.id, 'admin', Date.now()), true);
    const carol = (await expect(201, 'POST', '/api/v1/auth/register', { body: { username: 'carol_c', password: 'correct horse battery' } })).body.token as string;
    for (const report of reports) {
      await expect(403, 'GET', `/api/v1/admin/analytics/${report}`, { token: carol });
      await expect(401, 'GET', `/api/v1/admin/analytics/${report}`);
      await expect(400, 'GET', `/api/v1/admin/analytics/${report}?from=2026-02-01&to=2026-01-01`, { token: bob.token });
      if (!analyticsServers) {
        await expect(404, 'GET', `/api/v1/admin/analytics/${report}`, { token: bob.token });
        continue;
      }
      await expect(200, 'GET', `/api/v1/admin/analytics/${report}`, { token: bob.token });
      await expect(200, 'GET', `/api/v1/admin/analytics/${report}?from=2026-01-01&to=2026-02-01&limit=5`, { token: bob.token });
    }
    if (analyticsServers) await expect(200, 'GET', `/api/v1/admin/analytics/messages?roomId=${lobby}`, { token: bob.token });

    // Server administration: users, rooms, nodes, jobs and the audit log.
    const carolId = ((await expect(200, 'GET', '/api/v1/me', { token: carol })).body.user as Json).id as string;
    await expect(403, 'GET', '/api/v1/admin/users', { token: carol });
    await expect(200, 'GET', '/api/v1/admin/users?q=car&limit=5', { token: bob.token });
    await expect(400, 'GET', '/api/v1/admin/users?state=sleepy', { token: bob.token });
    const dave = (await expect(201, 'POST', '/api/v1/admin/users', { token: bob.token, body: { username: 'dave_d' } })).body.user as Json;
    await expect(409, 'POST', '/api/v1/admin/users', { token: bob.token, body: { username: 'dave_d' } });
    await expect(200, 'GET', `/api/v1/admin/users/${dave.id}`, { token: bob.token });
    await expect(404, 'GET', '/api/v1/admin/users/nobody', { token: bob.token });
    await expect(200, 'POST', `/api/v1/admin/users/${dave.id}/disable`, { token: bob.token });
    await expect(200, 'POST', `/api/v1/admin/users/${dave.id}/enable`, { token: bob.token });
    await expect(200, 'POST', `/api/v1/admin/users/${dave.id}/password`, { token: bob.token, body: {} });
    await expect(200, 'DELETE', `/api/v1/admin/users/${dave.id}/sessions`, { token: bob.token });
    await expect(200, 'PUT', `/api/v1/admin/users/${dave.id}/role`, { token: bob.token, body: { role: 'admin' } });
    await expect(200, 'PUT', `/api/v1/admin/users/${dave.id}/role`, { token: bob.token, body: { role: null } });
    await expect(409, 'DELETE', `/api/v1/admin/users/${me.body.user.id}`, { token: bob.token });
    await expect(204, 'DELETE', `/api/v1/admin/users/${dave.id}`, { token: bob.token });
    await expect(409, 'POST', `/api/v1/admin/users/${dave.id}/enable`, { token: bob.token });
    await expect(200, 'GET', '/api/v1/admin/rooms?limit=1', { token: bob.token });
    await expect(400, 'GET', '/api/v1/admin/rooms?after=nonsense', { token: bob.token });
    await expect(200, 'POST', `/api/v1/admin/rooms/${lobby}/archive`, { token: bob.token });
    await expect(200, 'POST', `/api/v1/admin/rooms/${lobby}/unarchive`, { token: bob.token });
    await expect(403, 'POST', `/api/v1/admin/rooms/${dm}/archive`, { token: bob.token });
    await expect(200, 'GET', '/api/v1/admin/nodes', { token: bob.token });
    await expect(200, 'GET', '/api/v1/admin/jobs', { token: bob.token });
    const deadJob = await makeDeadJob(server, carolId, lobby);
    await expect(200, 'GET', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead?limit=10`, { token: bob.token });
    await expect(404, 'GET', '/api/v1/admin/jobs/nope/dead', { token: bob.token });
    await expect(204, 'POST', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead/${deadJob}/retry`, { token: bob.token });
    await expect(404, 'POST', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead/nope/retry`, { token: bob.token });
    const again = await makeDeadJob(server, carolId, lobby);
    await expect(200, 'DELETE', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead/${again}`, { token: bob.token });
    await expect(404, 'DELETE', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead/${again}`, { token: bob.token });
    await expect(200, 'DELETE', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead`, { token: bob.token });
    await expect(200, 'GET', '/api/v1/admin/audit?limit=2', { token: bob.token });
  });

  it('every documented operation answered its success in the session', () => {
    for (const route of routes) assert.ok(answered.get(route.operationId)?.has(route.status), `${route.operationId} never answered ${route.status}`);
  });
});

describe('validation errors answer as before the routes were declared', () => {
  let server: TestServer;
  let token: string;
  before(async () => {
    server = await startTestServer({ AUTH_RATE_PER_MIN: 10_000 });
    const res = await api(server.url, 'POST', '/api/v1/auth/register', { body: { username: 'pinned', password: 'correct horse battery' } });
    token = res.body.token;
  });
  after(async () => server.stop());

  const issue = (path: string, message: string) => ({ path, message });
  const failed = (message: string, issues?: Array<{ path: string; message: string }>) => ({
    error: { code: 'validation_failed', message, ...(issues === undefined ? {} : { details: { issues } }) },
  });

  it('names the body as each route did, with every issue', async () => {
    const res = await api(server.url, 'POST', '/api/v1/auth/register', { body: { username: 'ab', password: 'long enough', admin: true } });
    assert.equal(res.status, 400);
    assert.deepEqual(
      res.body,
      failed('Invalid registration: username: must be 3–32 of a-z 0-9 _ . -.', [issue('username', 'must be 3–32 of a-z 0-9 _ . -'), issue('admin', 'is not a known field')]),
    );
    const room = await api(server.url, 'POST', '/api/v1/rooms', { token, body: { name: 'x', visibility: 'public', extra: 1 } });
    assert.deepEqual(room.body, failed('Invalid room: extra: is not a known field.', [issue('extra', 'is not a known field')]));
    const dm = await api(server.url, 'POST', '/api/v1/dms', { token, body: {} });
    assert.deepEqual(dm.body, failed('Invalid direct message: username: Invalid input: expected string, received undefined.', [issue('username', 'Invalid input: expected string, received undefined')]));
  });

  it('names the path and the query', async () => {
    const seq = await api(server.url, 'PATCH', '/api/v1/rooms/r1/messages/abc', { token, body: { body: 'x' } });
    assert.deepEqual(seq.body, failed('Invalid path: seq: must be a non-negative integer.', [issue('seq', 'must be a non-negative integer')]));
    const limit = await api(server.url, 'GET', '/api/v1/rooms/r1/messages?limit=0', { token });
    assert.deepEqual(limit.body, failed('Invalid query: limit: Too small: expected number to be >=1.', [issue('limit', 'Too small: expected number to be >=1')]));
    const both = await api(server.url, 'GET', '/api/v1/rooms/r1/messages?before=2&after=1', { token });
    assert.deepEqual(both.body, failed('Use before or after, not both.'));
  });

  it('checks who asks, then the path, then the query, then the body', async () => {
    const anonymous = await api(server.url, 'POST', '/api/v1/rooms/r1/messages', { body: { nope: true } });
    assert.equal(anonymous.status, 401);
    const pathFirst = await api(server.url, 'PATCH', `/api/v1/rooms/r1/messages/0`, { token, body: { nope: true } });
    assert.match(pathFirst.body.error.message, /^Invalid path: seq/);
    const queryFirst = await api(server.url, 'GET', '/api/v1/rooms/r1/messages?limit=0&extra=1', { token });
    assert.match(queryFirst.body.error.message, /^Invalid query/);
    // The per-IP limit of login comes before its body is read; a malformed body is refused first by the parser.
    const login = await api(server.url, 'POST', '/api/v1/auth/login', { rawBody: '{"username":', headers: { 'content-type': 'application/json' } });
    assert.deepEqual(login.body, { error: { code: 'validation_failed', message: 'The body is not valid JSON.' } });
  });
});
