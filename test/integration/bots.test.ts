/**
 * Bots and incoming webhooks on a real server: a bot's token, shown once, works on REST and on
 * the WebSocket; a new token revokes the old one at once, an open WebSocket included; a bot acts
 * only in the rooms a member added it to; a webhook's post is an ordinary send by its bot, live
 * with `bot: true` on the author; and every bad input to a webhook gets the error shape.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Json } from '../support/json.js';
import { api, createRoom, registerUser, searchFresh, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const HOOK_BURST = 5;
const BOTS_MAX = 12;

describe('bots and incoming webhooks', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  /** Alice's private room, Bob a member. */
  let ops: string;
  /** Alice's public room. */
  let lobby: string;

  const call = (method: string, route: string, options: Parameters<typeof api>[3] = {}) => api<Json>(server.url, method, route, options);
  const newBot = async (owner: TestUser, username: string, displayName?: string) => {
    const res = await call('POST', '/api/v1/bots', { token: owner.token, body: { username, ...(displayName === undefined ? {} : { displayName }) } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return { id: String(res.body.bot.id), username, token: String(res.body.token) };
  };
  const addMember = async (by: TestUser, roomId: string, username: string) => {
    const res = await call('POST', `/api/v1/rooms/${roomId}/members`, { token: by.token, body: { username } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  };
  const createHook = async (by: TestUser, roomId: string, body: Record<string, string>) => {
    const res = await call('POST', `/api/v1/rooms/${roomId}/incoming-webhooks`, { token: by.token, body });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return { id: String(res.body.webhook.id), url: String(res.body.url), webhook: res.body.webhook };
  };
  const post = (url: string, body: unknown, headers: Record<string, string> = {}) => call('POST', url, { body, headers });
  const isError = (res: { status: number; body: Json }, status: number, code: string) => {
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body.error.code, code);
    assert.equal(typeof res.body.error.message, 'string');
  };

  before(async () => {
    server = await startTestServer({ SEND_RATE_PER_SEC: 1, SEND_BURST: HOOK_BURST, BOTS_PER_USER_MAX: BOTS_MAX, AUTH_RATE_PER_MIN: 10_000 });
    alice = await registerUser(server.url, 'alice');
    bob = await registerUser(server.url, 'bob');
    ops = await createRoom(server.url, alice, 'private', 'Ops');
    lobby = await createRoom(server.url, alice, 'public', 'Lobby');
    await addMember(alice, ops, bob.username);
  });
  after(async () => server.stop());

  it('shows a bot its token once; the token works on REST and on the WebSocket; no password logs a bot in', async () => {
    const created = await call('POST', '/api/v1/bots', { token: alice.token, body: { username: 'Build_Bot', displayName: 'Build' } });
    assert.equal(created.status, 201);
    assert.deepEqual(Object.keys(created.body).sort(), ['bot', 'token']);
    assert.equal(created.body.bot.username, 'build_bot');
    assert.equal(created.body.bot.bot, true);
    const token = String(created.body.token);
    const listed = await call('GET', '/api/v1/bots', { token: alice.token });
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.bots.map((b: Json) => b.username),
      ['build_bot'],
    );
    assert.ok(!JSON.stringify(listed.body).includes(token), 'the token is never shown again');
    assert.deepEqual(Object.keys(listed.body.bots[0]).sort(), ['bot', 'createdAt', 'displayName', 'id', 'username']);

    const me = await call('GET', '/api/v1/me', { token });
    assert.equal(me.status, 200);
    assert.deepEqual(me.body.user, { id: created.body.bot.id, username: 'build_bot', displayName: 'Build', bot: true });
    const person = await call('GET', '/api/v1/me', { token: alice.token });
    assert.equal('bot' in person.body.user, false, "a person's view is as it always was");

    for (const ws of [await WsTestClient.connect(server.wsUrl, { token }), await WsTestClient.connect(server.wsUrl, { headers: { authorization: `Bearer ${token}` } })]) {
      ws.ws.send(JSON.stringify({ type: 'ping' }));
      await ws.waitFor((f) => f.type === 'pong');
      ws.close();
    }

    const wrong = await call('POST', '/api/v1/auth/login', { body: { username: 'nobody_at_all', password: 'correct horse battery' } });
    for (const password of ['correct horse battery', '!bot', '']) {
      const login = await call('POST', '/api/v1/auth/login', { body: { username: 'build_bot', password } });
      if (password === '') {
        isError(login, 400, 'validation_failed');
        continue;
      }
      isError(login, 401, 'unauthorized');
      assert.equal(login.body.error.message, wrong.body.error.message, 'refused as a wrong password is');
    }
  });

  it("holds a bot's names to people's rules, and each user to BOTS_PER_USER_MAX bots", async () => {
    const carol = await registerUser(server.url, 'carol');
    const taken = await call('POST', '/api/v1/bots', { token: carol.token, body: { username: alice.username } });
    isError(taken, 409, 'conflict');
    assert.deepEqual(taken.body.error.details, { field: 'username', reason: 'taken' });
    const lookalike = await call('POST', '/api/v1/bots', { token: carol.token, body: { username: 'lookalike_bot', displayName: alice.username.toUpperCase() } });
    isError(lookalike, 409, 'conflict');
    assert.deepEqual(lookalike.body.error.details, { field: 'displayName', reason: 'resembles_username' });
    isError(await call('POST', '/api/v1/bots', { token: carol.token, body: { username: 'x' } }), 400, 'validation_failed');
    for (let i = 0; i < BOTS_MAX; i++) await newBot(carol, `carol_bot_${i}`);
    const over = await call('POST', '/api/v1/bots', { token: carol.token, body: { username: 'carol_bot_x' } });
    isError(over, 403, 'forbidden');
    // Deleting one makes room for another.
    const first = (await call('GET', '/api/v1/bots', { token: carol.token })).body.bots[0];
    assert.equal((await call('DELETE', `/api/v1/bots/${first.id}`, { token: carol.token })).status, 204);
    const again = await newBot(carol, 'carol_bot_x');
    isError(await call('POST', '/api/v1/bots', { token: again.token, body: { username: 'bots_own_bot' } }), 403, 'forbidden');
    assert.deepEqual((await call('GET', '/api/v1/bots', { token: again.token })).body, { bots: [] });
  });

  it('lets a bot act only in the rooms a member added it to, over REST and the WebSocket', async () => {
    const bot = await newBot(alice, 'scoped_bot');
    const as = { token: bot.token };
    isError(await call('POST', '/api/v1/rooms', { ...as, body: { name: 'Mine', visibility: 'public' } }), 403, 'forbidden');
    isError(await call('POST', `/api/v1/rooms/${lobby}/join`, as), 403, 'forbidden');
    isError(await call('GET', '/api/v1/rooms/public', as), 403, 'forbidden');
    isError(await call('GET', `/api/v1/rooms/${lobby}`, as), 403, 'forbidden');
    isError(await call('GET', `/api/v1/rooms/${lobby}/members`, as), 403, 'forbidden');
    isError(await call('GET', `/api/v1/rooms/${ops}`, as), 404, 'not_found');
    isError(await call('POST', `/api/v1/rooms/${lobby}/messages`, { ...as, body: { body: 'hi' } }), 403, 'forbidden');
    isError(await call('GET', `/api/v1/rooms/${lobby}/messages`, as), 403, 'forbidden');
    isError(await call('POST', '/api/v1/dms', { ...as, body: { username: alice.username } }), 403, 'forbidden');
    isError(await call('POST', '/api/v1/dms', { token: alice.token, body: { username: bot.username } }), 403, 'forbidden');
    assert.deepEqual((await call('GET', '/api/v1/rooms', as)).body, { rooms: [] });

    const ws = await WsTestClient.connect(server.wsUrl, as);
    try {
      const refused = await ws.request({ type: 'subscribe', roomId: lobby });
      assert.equal((refused.error as Json).code, 'forbidden');
      const send = await ws.request({ type: 'send', roomId: ops, body: 'hello?' });
      assert.equal((send.error as Json).code, 'not_found');

      await addMember(alice, ops, bot.username);
      const sub = await ws.request({ type: 'subscribe', roomId: ops });
      assert.equal(sub.ok, true);
      const sent = await ws.request({ type: 'send', roomId: ops, body: 'hello from a bot', clientMsgId: 'w-1' });
      assert.equal(sent.ok, true);
      assert.deepEqual((sent.message as Json).author, { id: bot.id, username: bot.username, displayName: bot.username, bot: true });
      const rest = await call('POST', `/api/v1/rooms/${ops}/messages`, { ...as, body: { body: 'and over REST' } });
      assert.equal(rest.status, 201);
      assert.equal(rest.body.message.author.bot, true);
      assert.deepEqual(
        (await call('GET', '/api/v1/rooms', as)).body.rooms.map((r: Json) => r.id),
        [ops],
      );
      const members = (await call('GET', `/api/v1/rooms/${ops}/members`, as)).body.members;
      assert.equal(members.find((m: Json) => m.user.id === bot.id).user.bot, true);
      assert.equal('bot' in members.find((m: Json) => m.user.id === alice.id).user, false);
      isError(await call('POST', `/api/v1/rooms/${ops}/members`, { ...as, body: { username: 'carol_bot_x' } }), 403, 'forbidden');
      isError(await call('POST', `/api/v1/rooms/${ops}/incoming-webhooks`, { ...as, body: { name: 'Mine' } }), 403, 'forbidden');
      // Leaving is its own to do.
      assert.equal((await call('POST', `/api/v1/rooms/${ops}/leave`, as)).status, 204);
      isError(await call('POST', `/api/v1/rooms/${ops}/messages`, { ...as, body: { body: 'gone' } }), 404, 'not_found');
    } finally {
      ws.close();
    }
  });

  it('revokes every earlier token at once when a new one is made, closing its WebSockets with 1008', async () => {
    const bot = await newBot(alice, 'rotating_bot');
    const ws = await WsTestClient.connect(server.wsUrl, { token: bot.token });
    ws.ws.send(JSON.stringify({ type: 'ping' }));
    await ws.waitFor((f) => f.type === 'pong');
    isError(await call('POST', `/api/v1/bots/${bot.id}/token`, { token: bob.token }), 404, 'not_found');
    const rotated = await call('POST', `/api/v1/bots/${bot.id}/token`, { token: alice.token });
    assert.equal(rotated.status, 200);
    const fresh = String(rotated.body.token);
    assert.notEqual(fresh, bot.token);
    assert.equal(await ws.closed(), 1008);
    isError(await call('GET', '/api/v1/me', { token: bot.token }), 401, 'unauthorized');
    await assert.rejects(WsTestClient.connect(server.wsUrl, { token: bot.token }), (e: Json) => e.status === 401);
    assert.equal((await call('GET', '/api/v1/me', { token: fresh })).status, 200);
  });

  it('deletes a bot: tokens revoked, webhooks gone, out of its rooms; its messages stay', async () => {
    const bot = await newBot(alice, 'doomed_bot');
    await addMember(alice, ops, bot.username);
    const said = await call('POST', `/api/v1/rooms/${ops}/messages`, { token: bot.token, body: { body: 'last words' } });
    const hook = await createHook(alice, ops, { name: 'Doomed', botId: bot.id });
    const ws = await WsTestClient.connect(server.wsUrl, { token: alice.token });
    try {
      await ws.request({ type: 'subscribe', roomId: ops });
      isError(await call('DELETE', `/api/v1/bots/${bot.id}`, { token: bob.token }), 404, 'not_found');
      assert.equal((await call('DELETE', `/api/v1/bots/${bot.id}`, { token: alice.token })).status, 204);
      const left = await ws.waitFor((f) => f.type === 'event' && f.kind === 'member_left' && (f.user as Json).id === bot.id);
      assert.equal((left.user as Json).bot, true);
    } finally {
      ws.close();
    }
    isError(await call('GET', '/api/v1/me', { token: bot.token }), 401, 'unauthorized');
    isError(await post(hook.url, { text: 'still there?' }), 404, 'not_found');
    assert.ok(!(await call('GET', '/api/v1/bots', { token: alice.token })).body.bots.some((b: Json) => b.id === bot.id));
    isError(await call('POST', `/api/v1/rooms/${ops}/members`, { token: alice.token, body: { username: bot.username } }), 404, 'not_found');
    isError(await call('POST', '/api/v1/bots', { token: alice.token, body: { username: bot.username } }), 409, 'conflict');
    const history = (await call('GET', `/api/v1/rooms/${ops}/messages`, { token: alice.token })).body.messages;
    assert.deepEqual(
      history.find((m: Json) => m.seq === said.body.message.seq),
      said.body.message,
    );
    assert.equal((await call('DELETE', `/api/v1/bots/${bot.id}`, { token: alice.token })).status, 204, 'deleting again changes nothing');
  });

  it('posts through a webhook as its bot: live on the WebSocket with bot: true, in history and search, once per clientMsgId', async () => {
    const ws = await WsTestClient.connect(server.wsUrl, { token: bob.token });
    try {
      await ws.request({ type: 'subscribe', roomId: ops });
      const hook = await createHook(alice, ops, { name: 'Déploiements CI' });
      assert.match(hook.url, /^\/api\/v1\/hooks\/[A-Za-z0-9_-]{43}$/);
      assert.equal(hook.webhook.name, 'Déploiements CI');
      assert.equal(hook.webhook.roomId, ops);
      assert.equal(hook.webhook.bot.bot, true);
      assert.equal(hook.webhook.bot.displayName, 'Déploiements CI');
      assert.match(hook.webhook.bot.username, /^deploiements-ci-[a-z0-9]{6}$/);
      const joined = await ws.waitFor((f) => f.type === 'event' && f.kind === 'member_joined' && (f.user as Json).id === hook.webhook.bot.id);
      assert.equal((joined.user as Json).bot, true);

      const posted = await post(hook.url, { text: 'deploy kangaroo finished', clientMsgId: 'run-1' });
      assert.equal(posted.status, 201);
      assert.deepEqual(posted.body.message.author, hook.webhook.bot);
      const live = await ws.waitFor((f) => f.type === 'event' && f.kind === 'message' && (f.message as Json).id === posted.body.message.id);
      assert.deepEqual(live.message, posted.body.message);
      const retried = await post(hook.url, { text: 'deploy kangaroo finished', clientMsgId: 'run-1' });
      assert.equal(retried.status, 201);
      assert.deepEqual(retried.body.message, posted.body.message);
      const history = (await call('GET', `/api/v1/rooms/${ops}/messages`, { token: bob.token })).body.messages;
      assert.equal(history.filter((m: Json) => m.body === 'deploy kangaroo finished').length, 1);
      const hits = (await searchFresh(server.url, `/api/v1/search?q=kangaroo&roomId=${ops}`, bob.token)).body.hits as Json[];
      assert.equal(hits[0].message.author.bot, true);

      // Members list the room's webhooks, without their URLs.
      const listed = await call('GET', `/api/v1/rooms/${ops}/incoming-webhooks`, { token: bob.token });
      assert.equal(listed.status, 200);
      const mine = listed.body.webhooks.find((w: Json) => w.id === hook.id);
      assert.deepEqual(mine, hook.webhook);
      assert.ok(!JSON.stringify(listed.body).includes(hook.url.split('/').pop() as string));
      // The made bot is Alice's: she can give it a token.
      assert.ok((await call('GET', '/api/v1/bots', { token: alice.token })).body.bots.some((b: Json) => b.id === hook.webhook.bot.id));
    } finally {
      ws.close();
    }
  });

  it('makes webhooks for members only, with a bot of theirs that is in the room, and lets their creator or the owner delete them', async () => {
    const carol = await registerUser(server.url, 'carol');
    isError(await call('POST', `/api/v1/rooms/${ops}/incoming-webhooks`, { token: carol.token, body: { name: 'Spy' } }), 404, 'not_found');
    isError(await call('GET', `/api/v1/rooms/${ops}/incoming-webhooks`, { token: carol.token }), 404, 'not_found');
    const outsider = await newBot(alice, 'outsider_bot');
    isError(await call('POST', `/api/v1/rooms/${ops}/incoming-webhooks`, { token: alice.token, body: { name: 'Out', botId: outsider.id } }), 403, 'forbidden');
    const bobs = await newBot(bob, 'bobs_bot');
    await addMember(bob, ops, bobs.username);
    isError(await call('POST', `/api/v1/rooms/${ops}/incoming-webhooks`, { token: alice.token, body: { name: 'Theft', botId: bobs.id } }), 404, 'not_found');
    const lookalike = await call('POST', `/api/v1/rooms/${ops}/incoming-webhooks`, { token: alice.token, body: { name: bob.username } });
    isError(lookalike, 409, 'conflict');
    assert.equal(lookalike.body.error.details.field, 'name');
    const dm = String((await call('POST', '/api/v1/dms', { token: alice.token, body: { username: bob.username } })).body.room.id);
    isError(await call('POST', `/api/v1/rooms/${dm}/incoming-webhooks`, { token: alice.token, body: { name: 'DM hook' } }), 403, 'forbidden');

    const bobsHook = await createHook(bob, ops, { name: 'Bob CI', botId: bobs.id });
    const alicesHook = await createHook(alice, ops, { name: 'Alice CI' });
    isError(await call('DELETE', `/api/v1/rooms/${ops}/incoming-webhooks/${alicesHook.id}`, { token: bob.token }), 403, 'forbidden');
    isError(await call('DELETE', `/api/v1/rooms/${lobby}/incoming-webhooks/${alicesHook.id}`, { token: alice.token }), 404, 'not_found');
    assert.equal((await call('DELETE', `/api/v1/rooms/${ops}/incoming-webhooks/${alicesHook.id}`, { token: alice.token })).status, 204);
    isError(await post(alicesHook.url, { text: 'after delete' }), 404, 'not_found');
    // The room's owner deletes anyone's.
    assert.equal((await call('DELETE', `/api/v1/rooms/${ops}/incoming-webhooks/${bobsHook.id}`, { token: alice.token })).status, 204);
    isError(await call('DELETE', `/api/v1/rooms/${ops}/incoming-webhooks/${bobsHook.id}`, { token: alice.token }), 404, 'not_found');
  });

  it('answers every bad post to a webhook in the error shape, never with a 500', async () => {
    const hook = await createHook(alice, ops, { name: 'Fuzz' });
    const secret = hook.url.split('/').pop() as string;
    isError(await post('/api/v1/hooks/not-a-real-secret', { text: 'x' }), 404, 'not_found');
    // One character changed (to another: a secret ending in A stays itself with an A).
    isError(await post(`/api/v1/hooks/${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`, { text: 'x' }), 404, 'not_found');
    isError(await post(`/api/v1/hooks/${'A'.repeat(201)}`, { text: 'x' }), 400, 'validation_failed');
    isError(await post(`/api/v1/hooks?token=${secret}`, { text: 'x' }), 404, 'not_found');
    isError(await post(`${hook.url}?token=${secret}`, { text: 'x' }), 400, 'validation_failed');
    isError(await call('GET', hook.url), 404, 'not_found');
    isError(await call('POST', hook.url, { rawBody: 'text=hello', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 400, 'validation_failed');
    isError(await call('POST', hook.url, { rawBody: '{"text": "unterminated', headers: { 'content-type': 'application/json' } }), 400, 'validation_failed');
    isError(await call('POST', hook.url, { rawBody: Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), headers: { 'content-type': 'application/json' } }), 400, 'validation_failed');
    isError(await call('POST', hook.url), 400, 'validation_failed');
    for (const body of [{}, { text: '' }, { text: '   \u200b ' }, { text: 'bell \u0007' }, { text: 'nul \u0000' }, { text: 'rtl \u202e' }, { text: 42 }, { text: 'x'.repeat(4001) }, { text: 'ok', username: 'spoof' }, [], 'text', null]) {
      const res = await post(hook.url, body);
      isError(res, 400, 'validation_failed');
    }
    isError(await post(hook.url, { text: 'x'.repeat(70_000) }), 413, 'payload_too_large');
    // A cookie or an Origin changes nothing: the secret is the credential.
    const fromPage = await post(hook.url, { text: 'from anywhere' }, { origin: 'https://evil.example', cookie: 'parley_session=nope' });
    assert.equal(fromPage.status, 201);
  });

  it('limits each webhook on its own; a webhook whose bot left its room is forbidden', async () => {
    const hook = await createHook(alice, ops, { name: 'Noisy' });
    const other = await createHook(alice, ops, { name: 'Quiet' });
    let limited: { status: number; body: Json; headers: Headers } | undefined;
    for (let i = 0; i < HOOK_BURST * 3 && limited === undefined; i++) {
      const res = await post(hook.url, { text: `noise ${i}` });
      if (res.status !== 201) limited = res;
    }
    assert.ok(limited !== undefined, 'the burst ran out');
    isError(limited, 429, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((await post(other.url, { text: 'still fine' })).status, 201, 'another webhook has its own bucket');

    // Alice gives the made bot a token and it leaves the room.
    const rotated = await call('POST', `/api/v1/bots/${other.webhook.bot.id}/token`, { token: alice.token });
    assert.equal((await call('POST', `/api/v1/rooms/${ops}/leave`, { token: rotated.body.token })).status, 204);
    const res = await post(other.url, { text: 'anyone?' });
    isError(res, 403, 'forbidden');
    assert.match(res.body.error.message, /no longer a member/);
  });
});
