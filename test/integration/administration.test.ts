/**
 * Server administration on one node (embedded store): every admin endpoint refuses anyone but
 * a server administrator (403, before anything is read or changed) and a caller without a
 * session (401); each action does what it says and is written to the audit log; a disabled
 * account cannot log in and none of its sessions works, also one a login raced in; a deleted
 * account leaves its rooms, its bots go, its name is freed and its messages stay; dead jobs are
 * listed, retried and purged; and `parley admin` does the same at the console, its session
 * revocations closing WebSockets on a node it reaches by no bus (the node reads the audit log).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { deletedUsername } from '../../src/domain/administration.js';
import { EXPORT_QUEUE } from '../../src/exports/exports.js';
import { hashToken } from '../../src/domain/ids.js';
import { adminConsole, makeAdmin, makeDeadJob } from '../support/admin.js';
import type { Json } from '../support/json.js';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

type Body = Record<string, Json>;
const PASSWORD = 'correct horse battery';

describe('server administration (embedded store)', () => {
  let server: TestServer;
  let admin: TestUser;
  let mallory: TestUser;
  let target: TestUser;
  let room: string;
  const call = (method: string, route: string, token?: string, body?: unknown) => api<Body>(server.url, method, route, { ...(token === undefined ? {} : { token }), ...(body === undefined ? {} : { body }) });
  const login = (username: string, password = PASSWORD) => api<Body>(server.url, 'POST', '/api/v1/auth/login', { body: { username, password } });
  const audit = async () => ((await call('GET', '/api/v1/admin/audit?limit=200', admin.token)).body.entries as Body[]) ?? [];

  before(async () => {
    server = await startTestServer({ NODE_STATUS_INTERVAL_MS: 500, AUTH_RATE_PER_MIN: 10_000 });
    admin = await registerUser(server.url, 'root');
    mallory = await registerUser(server.url, 'mallory');
    target = await registerUser(server.url, 'target');
    await makeAdmin(server, admin.id);
    room = await createRoom(server.url, admin, 'public', 'Lobby');
    assert.equal((await call('POST', `/api/v1/rooms/${room}/join`, target.token)).status, 200);
  });
  after(async () => server?.stop());

  it('every admin endpoint answers 401 without a session and 403 (server_role) to anyone but an administrator, changing nothing', async () => {
    const id = target.id;
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/api/v1/admin/users'],
      ['POST', '/api/v1/admin/users', { username: 'sneaky_one' }],
      ['GET', `/api/v1/admin/users/${id}`],
      ['POST', `/api/v1/admin/users/${id}/disable`],
      ['POST', `/api/v1/admin/users/${id}/enable`],
      ['DELETE', `/api/v1/admin/users/${id}`],
      ['POST', `/api/v1/admin/users/${id}/password`, { password: 'mallory was here' }],
      ['DELETE', `/api/v1/admin/users/${id}/sessions`],
      ['PUT', `/api/v1/admin/users/${mallory.id}/role`, { role: 'admin' }],
      ['GET', '/api/v1/admin/rooms'],
      ['POST', `/api/v1/admin/rooms/${room}/archive`],
      ['POST', `/api/v1/admin/rooms/${room}/unarchive`],
      ['GET', '/api/v1/admin/nodes'],
      ['GET', '/api/v1/admin/jobs'],
      ['GET', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead`],
      ['POST', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead/nope/retry`],
      ['DELETE', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead/nope`],
      ['DELETE', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead`],
      ['GET', '/api/v1/admin/audit'],
    ];
    for (const [method, route, body] of routes) {
      const anonymous = await call(method, route, undefined, body);
      assert.equal(anonymous.status, 401, `${method} ${route} without a session`);
      const refused = await call(method, route, mallory.token, body);
      assert.equal(refused.status, 403, `${method} ${route} as a non-administrator: ${JSON.stringify(refused.body)}`);
      assert.deepEqual((refused.body.error as Body).details, { reason: 'server_role' });
    }
    // Nothing changed: the target still logs in with their password, mallory is no administrator, no user was made.
    assert.equal((await login(target.username)).status, 200);
    assert.equal(await server.parley.services.store.serverRole(mallory.id), null);
    assert.equal(await server.parley.services.store.findUserByUsername('sneaky_one'), undefined);
    const lobby = (await call('GET', '/api/v1/admin/rooms?q=lobby', admin.token)).body.rooms as Body[];
    assert.deepEqual(lobby.map((r) => [r.id, r.archived ?? false]), [[room, false]]);
    assert.deepEqual(await audit(), []);
  });

  it('disabling ends every session at once (REST 401, WebSocket 1008), login is refused with account_disabled; enabling lets them in again', async () => {
    const second = (await login(target.username)).body.token as string;
    const ws = await WsTestClient.connect(server.wsUrl, { token: target.token });
    ws.ws.send(JSON.stringify({ type: 'ping' }));
    await ws.waitFor((f) => f.type === 'pong');

    const disabled = await call('POST', `/api/v1/admin/users/${target.id}/disable`, admin.token);
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    assert.equal(typeof (disabled.body.user as Body).disabledAt, 'string');
    assert.equal(await ws.closed(5_000), 1008);
    for (const token of [target.token, second]) assert.equal((await call('GET', '/api/v1/me', token)).status, 401);
    const refused = await login(target.username);
    assert.equal(refused.status, 403);
    assert.deepEqual((refused.body.error as Body).details, { reason: 'account_disabled' });
    // A wrong password says nothing of the account's state.
    assert.equal((await login(target.username, 'not the password')).status, 401);
    // A WebSocket with an old token is refused too.
    await assert.rejects(WsTestClient.connect(server.wsUrl, { token: second }), (e: Error & { status?: number }) => e.status === 401);

    const enabled = await call('POST', `/api/v1/admin/users/${target.id}/enable`, admin.token);
    assert.equal(enabled.status, 200);
    assert.equal((enabled.body.user as Body).disabledAt, null);
    const back = await login(target.username);
    assert.equal(back.status, 200);
    target.token = back.body.token as string;
    // Still a member of the room: disabling kept their memberships.
    assert.equal((await call('GET', `/api/v1/rooms/${room}/messages`, target.token)).status, 200);
    const actions = (await audit()).map((e) => e.action);
    assert.deepEqual(actions.slice(0, 2), ['user_enabled', 'user_disabled']);
  });

  it("disabling an owner stops what acts for them: their bots' tokens and incoming webhooks are refused until they are enabled", async () => {
    const owner = await registerUser(server.url, 'owner');
    const ownRoom = await createRoom(server.url, owner, 'private', 'Own');
    const bot = await call('POST', '/api/v1/bots', owner.token, { username: `obot_${Date.now() % 100000}` });
    assert.equal(bot.status, 201);
    const botToken = bot.body.token as string;
    const hook = await call('POST', `/api/v1/rooms/${ownRoom}/incoming-webhooks`, owner.token, { name: 'Deploys' });
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    const hookPath = new URL(hook.body.url as string, server.url).pathname;
    assert.equal((await call('POST', hookPath, undefined, { text: 'before' })).status, 201);
    const botSocket = await WsTestClient.connect(server.wsUrl, { token: botToken });
    botSocket.ws.send(JSON.stringify({ type: 'ping' }));
    await botSocket.waitFor((f) => f.type === 'pong');

    const disabled = await call('POST', `/api/v1/admin/users/${owner.id}/disable`, admin.token);
    assert.equal(disabled.status, 200);
    assert.equal(await botSocket.closed(5_000), 1008);
    assert.equal((await call('GET', '/api/v1/me', botToken)).status, 401, "the bot's token");
    const refused = await call('POST', hookPath, undefined, { text: 'during' });
    assert.equal(refused.status, 403);
    assert.deepEqual((refused.body.error as Body).details, { reason: 'account_disabled' });
    const entry = (await audit())[0] as Body;
    assert.equal(entry.action, 'user_disabled');
    const botId = (bot.body.bot as Body).id as string;
    assert.deepEqual((entry.data as Body).bots, [botId], 'the bot whose sockets were closed, named in the audit log');
    // Enabling the bot alone changes nothing while its owner is disabled.
    assert.equal((await call('POST', `/api/v1/admin/users/${botId}/disable`, admin.token)).status, 200);
    assert.equal((await call('POST', `/api/v1/admin/users/${botId}/enable`, admin.token)).status, 200);
    assert.equal((await call('GET', '/api/v1/me', botToken)).status, 401, 'refused with its owner');
    assert.equal((await call('POST', hookPath, undefined, { text: 'still during' })).status, 403);

    assert.equal((await call('POST', `/api/v1/admin/users/${owner.id}/enable`, admin.token)).status, 200);
    assert.equal((await call('GET', '/api/v1/me', botToken)).status, 200, 'the bot works again with its token');
    assert.equal((await call('POST', hookPath, undefined, { text: 'after' })).status, 201);
    // A bot disabled on its own stays disabled when its owner is disabled and enabled again, in either order.
    for (const order of [['bot', 'owner'], ['owner', 'bot']]) {
      for (const who of order) assert.equal((await call('POST', `/api/v1/admin/users/${who === 'bot' ? botId : owner.id}/disable`, admin.token)).status, 200);
      assert.equal((await call('POST', `/api/v1/admin/users/${owner.id}/enable`, admin.token)).status, 200);
      assert.equal((await call('GET', '/api/v1/me', botToken)).status, 401, `disabled ${order.join(' then ')}: the bot stays disabled`);
      assert.equal((await call('POST', `/api/v1/admin/users/${botId}/enable`, admin.token)).status, 200);
      assert.equal((await call('GET', '/api/v1/me', botToken)).status, 200);
    }
    // A token its owner rotates while the bot is disabled works once it is enabled.
    owner.token = (await login(owner.username)).body.token as string;
    assert.equal((await call('POST', `/api/v1/admin/users/${botId}/disable`, admin.token)).status, 200);
    const rotated = await call('POST', `/api/v1/bots/${botId}/token`, owner.token);
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal((await call('GET', '/api/v1/me', rotated.body.token as string)).status, 401);
    assert.equal((await call('POST', `/api/v1/admin/users/${botId}/enable`, admin.token)).status, 200);
    assert.equal((await call('GET', '/api/v1/me', rotated.body.token as string)).status, 200);
    // A bot its owner deleted is shown deleted, and nothing is done to it any more.
    assert.equal((await call('DELETE', `/api/v1/bots/${botId}`, owner.token)).status, 204);
    const gone = await call('GET', `/api/v1/admin/users/${botId}`, admin.token);
    assert.equal(typeof (gone.body.user as Body).deletedAt, 'string');
    const revived = await call('POST', `/api/v1/admin/users/${botId}/enable`, admin.token);
    assert.equal(revived.status, 409);
    assert.deepEqual((revived.body.error as Body).details, { reason: 'deleted' });
    const deletedOnes = (await call('GET', '/api/v1/admin/users?state=deleted&limit=200', admin.token)).body.users as Body[];
    assert.ok(deletedOnes.some((u) => u.id === botId));
    // A webhook named like a deleted account gets a name of its own.
    const named = await call('POST', `/api/v1/rooms/${ownRoom}/incoming-webhooks`, owner.token, { name: 'Deleted items' });
    assert.equal(named.status, 201, JSON.stringify(named.body));
  });

  it('a session made while an account is disabled (a login that raced the disable) stays ended once it is enabled', async () => {
    const user = await registerUser(server.url, 'raced');
    assert.equal((await call('POST', `/api/v1/admin/users/${user.id}/disable`, admin.token)).status, 200);
    // What a login whose password check began before the disable writes after it.
    await server.parley.services.store.createSession({ tokenHash: hashToken('raced-token'), userId: user.id, createdAt: Date.now() - 60_000, expiresAt: Date.now() + 3_600_000 });
    assert.equal((await call('GET', '/api/v1/me', 'raced-token')).status, 401);
    assert.equal((await call('POST', `/api/v1/admin/users/${user.id}/enable`, admin.token)).status, 200);
    assert.equal((await call('GET', '/api/v1/me', 'raced-token')).status, 401);
    assert.equal((await login(user.username)).status, 200);
  });

  it('a disabled administrator cannot administer until enabled', async () => {
    const second = await registerUser(server.url, 'deputy');
    await makeAdmin(server, second.id);
    assert.equal((await call('GET', '/api/v1/admin/users', second.token)).status, 200);
    assert.equal((await call('POST', `/api/v1/admin/users/${second.id}/disable`, admin.token)).status, 200);
    // Even with a session (one a login raced in), nothing administers.
    await server.parley.services.store.createSession({ tokenHash: hashToken('deputy-token'), userId: second.id, createdAt: Date.now(), expiresAt: Date.now() + 3_600_000 });
    assert.equal((await call('GET', '/api/v1/admin/users', 'deputy-token')).status, 401);
    const byDisabled = await adminConsole(server, ['audit', '--by', second.username]);
    assert.equal(byDisabled.code, 1, 'the console refuses --by a disabled administrator');
    assert.equal((await call('POST', `/api/v1/admin/users/${second.id}/enable`, admin.token)).status, 200);
    const back = await login(second.username);
    assert.equal((await call('GET', '/api/v1/admin/users', back.body.token as string)).status, 200, 'the role held through');
  });

  it('a login racing a disable never leaves a working session', async () => {
    const racer = await registerUser(server.url, 'racer');
    const logins = Array.from({ length: 6 }, () => login(racer.username));
    const disable = call('POST', `/api/v1/admin/users/${racer.id}/disable`, admin.token);
    const answers = await Promise.all([...logins, disable]);
    assert.equal(answers.at(-1)?.status, 200);
    for (const answer of answers.slice(0, -1)) {
      if (answer.status !== 200) continue;
      assert.equal((await call('GET', '/api/v1/me', answer.body.token as string)).status, 401, 'a session made around the disable works');
    }
    assert.equal((await call('GET', '/api/v1/me', racer.token)).status, 401);
  });

  it('a password reset sets the new password, ends every session, and answers the password made when none is given', async () => {
    const ws = await WsTestClient.connect(server.wsUrl, { token: target.token });
    ws.ws.send(JSON.stringify({ type: 'ping' }));
    await ws.waitFor((f) => f.type === 'pong');
    const reset = await call('POST', `/api/v1/admin/users/${target.id}/password`, admin.token, {});
    assert.equal(reset.status, 200);
    const made = reset.body.password as string;
    assert.equal(typeof made, 'string');
    assert.ok(made.length >= 20);
    assert.equal(reset.body.sessionsRevoked, 1);
    assert.equal(await ws.closed(5_000), 1008);
    assert.equal((await call('GET', '/api/v1/me', target.token)).status, 401);
    assert.equal((await login(target.username)).status, 401, 'the old password');
    const given = await call('POST', `/api/v1/admin/users/${target.id}/password`, admin.token, { password: 'a new one, chosen' });
    assert.deepEqual(given.body, { password: null, sessionsRevoked: 0 });
    const back = await login(target.username, 'a new one, chosen');
    assert.equal(back.status, 200);
    target.token = back.body.token as string;
    // A password too short is refused before anything changes.
    assert.equal((await call('POST', `/api/v1/admin/users/${target.id}/password`, admin.token, { password: 'x' })).status, 400);
    assert.equal((await call('GET', '/api/v1/me', target.token)).status, 200);
  });

  it('revoking sessions ends them all; they log in again', async () => {
    const other = (await login(target.username, 'a new one, chosen')).body.token as string;
    const revoked = await call('DELETE', `/api/v1/admin/users/${target.id}/sessions`, admin.token);
    assert.deepEqual(revoked.body, { sessionsRevoked: 2 });
    for (const token of [target.token, other]) assert.equal((await call('GET', '/api/v1/me', token)).status, 401);
    const back = await login(target.username, 'a new one, chosen');
    assert.equal(back.status, 200);
    target.token = back.body.token as string;
  });

  it('roles: granted and revoked at once; not to a bot or a disabled account; nobody revokes or disables themselves', async () => {
    const granted = await call('PUT', `/api/v1/admin/users/${target.id}/role`, admin.token, { role: 'admin' });
    assert.equal((granted.body.user as Body).role, 'admin');
    assert.equal((await call('GET', '/api/v1/admin/users', target.token)).status, 200);
    assert.equal((await call('PUT', `/api/v1/admin/users/${target.id}/role`, admin.token, { role: null })).status, 200);
    assert.equal((await call('GET', '/api/v1/admin/users', target.token)).status, 403);
    const bot = await call('POST', '/api/v1/bots', target.token, { username: `bot_${Date.now() % 100000}` });
    assert.equal(bot.status, 201);
    const botId = (bot.body.bot as Body).id as string;
    const toBot = await call('PUT', `/api/v1/admin/users/${botId}/role`, admin.token, { role: 'admin' });
    assert.equal(toBot.status, 409);
    assert.deepEqual((toBot.body.error as Body).details, { reason: 'bot' });
    for (const [method, route, body] of [
      ['PUT', `/api/v1/admin/users/${admin.id}/role`, { role: null }],
      ['POST', `/api/v1/admin/users/${admin.id}/disable`, undefined],
      ['DELETE', `/api/v1/admin/users/${admin.id}`, undefined],
    ] as const) {
      const self = await call(method, route, admin.token, body);
      assert.equal(self.status, 409, `${method} ${route}`);
      assert.deepEqual((self.body.error as Body).details, { reason: 'self' });
    }
    assert.equal((await call('GET', '/api/v1/admin/users/nope', admin.token)).status, 404);
    assert.equal((await call('POST', '/api/v1/admin/users/nope/disable', admin.token)).status, 404);
  });

  it('users: created with a password made and shown once, names checked as registration checks them, listed and searched by state', async () => {
    const created = await call('POST', '/api/v1/admin/users', admin.token, { username: 'newcomer', displayName: 'New Comer' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal((created.body.user as Body).username, 'newcomer');
    assert.equal((await login('newcomer', created.body.password as string)).status, 200);
    const clash = await call('POST', '/api/v1/admin/users', admin.token, { username: 'newcomer', password: PASSWORD });
    assert.equal(clash.status, 409);
    assert.equal((await call('POST', '/api/v1/admin/users', admin.token, { username: 'Bad Name!' })).status, 400);
    const withAdmin = await call('POST', '/api/v1/admin/users', admin.token, { username: 'second_admin', password: PASSWORD, admin: true });
    assert.deepEqual([withAdmin.body.password, (withAdmin.body.user as Body).role], [null, 'admin']);

    const found = await call('GET', '/api/v1/admin/users?q=NEWC', admin.token);
    assert.deepEqual((found.body.users as Body[]).map((u) => u.username), ['newcomer']);
    const bots = await call('GET', '/api/v1/admin/users?state=bot', admin.token);
    assert.ok((bots.body.users as Body[]).length >= 1);
    assert.ok((bots.body.users as Body[]).every((u) => u.bot === true));
    // Paged: every user once, in username order.
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof call>> = await call('GET', `/api/v1/admin/users?limit=2${after === null ? '' : `&after=${encodeURIComponent(after)}`}`, admin.token);
      seen.push(...(page.body.users as Body[]).map((u) => u.username as string));
      after = page.body.next as string | null;
    } while (after !== null);
    assert.deepEqual(seen, [...seen].sort());
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(seen.includes(admin.username) && seen.includes('newcomer'));
  });

  it('deleting a person: sessions end, they leave their rooms, their bots go, their name is freed, their messages stay as a deleted user', async () => {
    const doomed = await registerUser(server.url, 'doomed');
    assert.equal((await call('POST', `/api/v1/rooms/${room}/join`, doomed.token)).status, 200);
    const sent = await call('POST', `/api/v1/rooms/${room}/messages`, doomed.token, { body: 'my last words' });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    const bot = await call('POST', '/api/v1/bots', doomed.token, { username: `dbot_${Date.now() % 100000}` });
    const botToken = bot.body.token as string;
    const watcher = await WsTestClient.connect(server.wsUrl, { token: admin.token });
    const sub = await watcher.request({ type: 'subscribe', roomId: room });
    assert.equal(sub.ok, true);

    // Nobody takes the name the account will get (which would stop its deletion), nor a display name passing for a deleted user.
    const squat = await api<Body>(server.url, 'POST', '/api/v1/auth/register', { body: { username: deletedUsername(doomed.id), password: PASSWORD } });
    assert.equal(squat.status, 409);
    assert.deepEqual((squat.body.error as Body).details, { field: 'username', reason: 'taken' });
    const lookalike = await api<Body>(server.url, 'POST', '/api/v1/auth/register', { body: { username: 'lookalike', password: PASSWORD, displayName: 'Deleted-1234' } });
    assert.equal(lookalike.status, 409);
    const deleted = await call('DELETE', `/api/v1/admin/users/${doomed.id}`, admin.token);
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    await watcher.waitFor((f) => f.type === 'event' && f.kind === 'member_left' && (f.user as Body)?.id === doomed.id);
    assert.equal((await call('GET', '/api/v1/me', doomed.token)).status, 401);
    assert.equal((await call('GET', '/api/v1/me', botToken)).status, 401, 'their bot is gone');
    assert.equal((await login(doomed.username)).status, 401);
    const history = await call('GET', `/api/v1/rooms/${room}/messages`, admin.token);
    const last = (history.body.messages as Body[]).find((m) => m.body === 'my last words');
    assert.ok(last, 'the message stays');
    assert.match((last.author as Body).username as string, /^deleted-[0-9a-f]{16}$/);
    assert.equal((last.author as Body).displayName, 'Deleted user');
    const shown = await call('GET', `/api/v1/admin/users/${doomed.id}`, admin.token);
    assert.equal(typeof (shown.body.user as Body).deletedAt, 'string');
    // The name is free again; the deleted account cannot be enabled; a second delete changes nothing.
    const again = await api<Body>(server.url, 'POST', '/api/v1/auth/register', { body: { username: doomed.username, password: PASSWORD } });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    const enable = await call('POST', `/api/v1/admin/users/${doomed.id}/enable`, admin.token);
    assert.equal(enable.status, 409);
    assert.deepEqual((enable.body.error as Body).details, { reason: 'deleted' });
    // A deleted account is no user to add, message, find or look up; it has no password to reset.
    const erasedName = deletedUsername(doomed.id);
    assert.equal((await call('POST', `/api/v1/rooms/${room}/members`, admin.token, { username: erasedName })).status, 404);
    assert.equal((await call('POST', '/api/v1/dms', admin.token, { username: erasedName })).status, 404);
    assert.equal((await call('GET', `/api/v1/users/${doomed.id}`, admin.token)).status, 404);
    const found = await call('GET', `/api/v1/users?q=${erasedName.slice(0, 12)}`, admin.token);
    assert.deepEqual(found.body.users, []);
    const reset = await call('POST', `/api/v1/admin/users/${doomed.id}/password`, admin.token, {});
    assert.equal(reset.status, 409);
    assert.deepEqual((reset.body.error as Body).details, { reason: 'deleted' });
    const pose = await call('PATCH', '/api/v1/me', mallory.token, { displayName: erasedName });
    assert.equal(pose.status, 409, 'nobody passes for a deleted account');
    assert.equal((await call('DELETE', `/api/v1/admin/users/${doomed.id}`, admin.token)).status, 204);
    assert.equal((await audit()).filter((e) => e.action === 'user_deleted' && (e.user as Body).id === doomed.id).length, 1, 'a repeat writes no second entry');
    watcher.close();
  });

  it('deleting a member of many rooms (several left at once): out of each once, with one member_left, the DM kept', async () => {
    const spammer = await registerUser(server.url, 'spammer');
    const rooms: string[] = [];
    for (let i = 0; i < 40; i++) {
      const id = await createRoom(server.url, admin, i % 4 === 0 ? 'private' : 'public', `spam target ${i}`);
      const joined = i % 4 === 0 ? await call('POST', `/api/v1/rooms/${id}/members`, admin.token, { username: spammer.username }) : await call('POST', `/api/v1/rooms/${id}/join`, spammer.token);
      assert.ok(joined.status === 200 || joined.status === 201, JSON.stringify(joined.body));
      rooms.push(id);
    }
    const dm = await call('POST', '/api/v1/dms', admin.token, { username: spammer.username });
    const dmId = (dm.body.room as Body).id as string;
    assert.equal((await call('DELETE', `/api/v1/admin/users/${spammer.id}`, admin.token)).status, 204);
    const { store } = server.parley.services;
    assert.deepEqual(await store.listMemberRoomIds(spammer.id), [dmId], 'out of every room but the DM');
    for (const id of rooms) {
      const members = await call('GET', `/api/v1/rooms/${id}/members`, admin.token);
      assert.ok(!(members.body.members as Body[]).some((m) => ((m.user as Body | undefined)?.id ?? m.id) === spammer.id), `not a member of ${id}`);
    }
    // One member_left each, in every room's stream.
    for (const id of rooms) {
      const ws = await WsTestClient.connect(server.wsUrl, { token: admin.token });
      assert.equal((await ws.request({ type: 'subscribe', roomId: id, since: 0 })).ok, true);
      const replayed = await ws.waitForEvents(id, 3);
      const left = replayed.filter((e) => e.kind === 'member_left' && (e.user as Body | undefined)?.id === spammer.id);
      assert.equal(left.length, 1, `one member_left in ${id}`);
      ws.close();
    }
  });

  it('rooms: every room listed and searched, paged; an administrator archives a room they are not in, and opens it again', async () => {
    const secret = await createRoom(server.url, mallory, 'private', 'Secret Plans');
    const listed = await call('GET', '/api/v1/admin/rooms?q=secret', admin.token);
    assert.deepEqual((listed.body.rooms as Body[]).map((r) => [r.id, r.visibility, r.members]), [[secret, 'private', 1]]);
    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof call>> = await call('GET', `/api/v1/admin/rooms?limit=1${after === null ? '' : `&after=${encodeURIComponent(after)}`}`, admin.token);
      assert.equal(page.status, 200);
      seen.push(...(page.body.rooms as Body[]).map((r) => r.id as string));
      after = page.body.next as string | null;
    } while (after !== null);
    assert.ok(seen.includes(secret) && seen.includes(room));
    assert.equal(new Set(seen).size, seen.length);
    assert.equal((await call('GET', '/api/v1/admin/rooms?after=garbage', admin.token)).status, 400);

    const ws = await WsTestClient.connect(server.wsUrl, { token: mallory.token });
    assert.equal((await ws.request({ type: 'subscribe', roomId: secret })).ok, true);
    const archived = await call('POST', `/api/v1/admin/rooms/${secret}/archive`, admin.token);
    assert.equal(archived.status, 200, JSON.stringify(archived.body));
    assert.equal((archived.body.room as Body).archived, true);
    const event = await ws.waitFor((f) => f.type === 'event' && f.kind === 'room_updated');
    assert.equal((event.user as Body).id, admin.id);
    assert.deepEqual(event.changes, { archived: true });
    const send = await call('POST', `/api/v1/rooms/${secret}/messages`, mallory.token, { body: 'still here?' });
    assert.equal(send.status, 403);
    assert.equal((await call('POST', `/api/v1/admin/rooms/${secret}/unarchive`, admin.token)).status, 200);
    assert.equal((await call('POST', `/api/v1/rooms/${secret}/messages`, mallory.token, { body: 'open again' })).status, 201);
    assert.equal((await call('POST', '/api/v1/admin/rooms/nope/archive', admin.token)).status, 404);
    ws.close();
    const actions = (await audit()).filter((e) => e.roomId === secret).map((e) => e.action);
    assert.deepEqual(actions, ['room_opened', 'room_archived']);
  });

  it('dead jobs: counted, listed with their error, retried, purged one and all', async () => {
    const first = await makeDeadJob(server, mallory.id, room);
    const counts = await call('GET', '/api/v1/admin/jobs', admin.token);
    const exportQueue = (counts.body.queues as Body[]).find((q) => q.queue === EXPORT_QUEUE) as Body;
    assert.ok((exportQueue.dead as number) >= 1);
    const dead = await call('GET', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead`, admin.token);
    const job = (dead.body.jobs as Body[]).find((j) => j.id === first) as Body;
    assert.match(job.error as string, /left the room/);
    assert.equal((await call('GET', '/api/v1/admin/jobs/no-such-queue/dead', admin.token)).status, 404);
    assert.equal((await call('POST', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead/${first}/retry`, admin.token)).status, 204);
    // It runs again, and dies again (the owner is still no member).
    await makeDeadJobSettled(first);
    assert.equal((await call('DELETE', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead/${first}`, admin.token)).body.purged, 1);
    assert.equal((await call('DELETE', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead/${first}`, admin.token)).status, 404);
    await makeDeadJob(server, mallory.id, room);
    await makeDeadJob(server, mallory.id, room);
    assert.equal((await call('DELETE', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead`, admin.token)).body.purged, 2);
    assert.deepEqual((await call('GET', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead`, admin.token)).body.jobs, []);
    const actions = (await audit()).slice(0, 3).map((e) => e.action);
    assert.deepEqual(actions, ['jobs_purged', 'jobs_purged', 'job_retried']);

    async function makeDeadJobSettled(id: string): Promise<void> {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const jobs = (await call('GET', `/api/v1/admin/jobs/${EXPORT_QUEUE}/dead`, admin.token)).body.jobs as Body[];
        if (jobs.some((j) => j.id === id && (j.attempts as number) >= 1 && j.failedAt !== job.failedAt)) return;
        if (Date.now() > deadline) throw new Error('the retried job did not die again');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  it('nodes: this node, ready, with its connections', async () => {
    const ws = await WsTestClient.connect(server.wsUrl, { token: admin.token });
    const deadline = Date.now() + 10_000;
    let nodes: Body[] = [];
    while (Date.now() < deadline) {
      nodes = (await call('GET', '/api/v1/admin/nodes', admin.token)).body.nodes as Body[];
      if ((nodes[0]?.connections as number) >= 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0]?.id, server.parley.nodeId);
    // Anything else on the channel is no node: a status with a time no Date holds, a flood of junk.
    const forged = { ...(nodes[0] as Body), id: 'forged', startedAt: 1e16, at: Date.now() };
    const valid = { ...(nodes[0] as Body), id: 'another-node', startedAt: Date.now(), at: Date.now(), breakers: {} };
    for (const status of [forged, valid]) {
      const { ready: _ready, ...wire } = status as Body & { ready?: boolean };
      await server.parley.bus.publish('ctl:nodes', JSON.stringify({ ...wire, startedAt: Number(wire.startedAt), at: Number(wire.at) }));
    }
    for (const junk of ['not json', '[]', JSON.stringify({ id: 'x'.repeat(10_000) })]) await server.parley.bus.publish('ctl:nodes', junk);
    const listed = await call('GET', '/api/v1/admin/nodes', admin.token);
    assert.equal(listed.status, 200);
    assert.deepEqual((listed.body.nodes as Body[]).map((n) => n.id), [server.parley.nodeId, 'another-node']);
    assert.equal(nodes[0]?.ready, true);
    assert.ok((nodes[0]?.connections as number) >= 1);
    ws.close();
  });

  it('the audit log pages newest first, naming who acted and on whom', async () => {
    const all = await audit();
    assert.ok(all.length >= 10);
    assert.ok(all.every((e) => (e.via === 'api' ? (e.actor as Body).id === admin.id : true)));
    const ids = all.map((e) => e.id as number);
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a));
    const first = await call('GET', '/api/v1/admin/audit?limit=3', admin.token);
    const next = await call('GET', `/api/v1/admin/audit?limit=3&before=${first.body.nextBefore}`, admin.token);
    assert.deepEqual([...(first.body.entries as Body[]), ...(next.body.entries as Body[])].map((e) => e.id), ids.slice(0, 6));
  });

  it('parley admin at the console: each command, audited as the console, with --by naming an administrator', async () => {
    const created = await adminConsole(server, ['user', 'create', 'console_made', '--display-name', 'Console Made']);
    assert.equal(created.code, 0, created.err);
    const password = created.out[0]?.password as string;
    assert.equal((await login('console_made', password)).status, 200);
    const chosen = await adminConsole(server, ['user', 'password', 'console_made', '--password-stdin'], 'piped in secret');
    assert.equal(chosen.code, 0, chosen.err);
    assert.equal(chosen.out[0]?.password, undefined, 'a given password is not echoed');
    assert.equal((await login('console_made', 'piped in secret')).status, 200);
    const token = (await login('console_made', 'piped in secret')).body.token as string;
    const ws = await WsTestClient.connect(server.wsUrl, { token });
    ws.ws.send(JSON.stringify({ type: 'ping' }));
    await ws.waitFor((f) => f.type === 'pong');
    const disabled = await adminConsole(server, ['user', 'disable', 'console_made']);
    assert.equal(disabled.code, 0);
    assert.match(disabled.err, /within 2 s/, 'the console says how an in-process bus reaches the node');
    assert.equal((await call('GET', '/api/v1/me', token)).status, 401, 'refused at once: no cache between the node and the store');
    // No bus reaches the node from the console: it reads the audit log and closes the WebSocket.
    assert.equal(await ws.closed(10_000), 1008);
    assert.equal((await login('console_made', 'piped in secret')).status, 403);
    assert.equal((await adminConsole(server, ['user', 'enable', 'console_made'])).code, 0);
    const made = await adminConsole(server, ['user', 'password', 'console_made']);
    assert.equal(typeof made.out[0]?.password, 'string');
    assert.equal((await adminConsole(server, ['user', 'revoke-sessions', 'console_made'])).out[0]?.sessionsRevoked, 0);
    const users = await adminConsole(server, ['users', 'console', '--state', 'active']);
    assert.deepEqual(users.out.map((u) => u.username), ['console_made']);
    assert.equal((await adminConsole(server, ['user', 'delete', 'console_made'])).code, 2, 'delete needs --yes');
    const ownerToken = (await login('console_made', made.out[0]?.password as string)).body.token as string;
    const ownBot = await call('POST', '/api/v1/bots', ownerToken, { username: `cbot_${Date.now() % 100000}` });
    assert.equal(ownBot.status, 201);
    const botSocket = await WsTestClient.connect(server.wsUrl, { token: ownBot.body.token as string });
    botSocket.ws.send(JSON.stringify({ type: 'ping' }));
    await botSocket.waitFor((f) => f.type === 'pong');
    assert.equal((await adminConsole(server, ['user', 'delete', 'console_made', '--yes'])).code, 0);
    // No bus from the console: the node reads the audit log and closes the deleted owner's bot's socket too.
    assert.equal(await botSocket.closed(10_000), 1008);
    assert.equal((await adminConsole(server, ['user', 'disable', 'console_made'])).code, 1, 'the name is gone');

    const rooms = await adminConsole(server, ['rooms', 'lobby']);
    assert.deepEqual(rooms.out.map((r) => r.id), [room]);
    const noActor = await adminConsole(server, ['room', 'archive', room]);
    assert.equal(noActor.code, 1);
    assert.match(noActor.err, /--by/);
    const notAdmin = await adminConsole(server, ['room', 'archive', room, '--by', mallory.username]);
    assert.equal(notAdmin.code, 1);
    const member = await WsTestClient.connect(server.wsUrl, { token: target.token });
    assert.equal((await member.request({ type: 'subscribe', roomId: room })).ok, true);
    assert.equal((await adminConsole(server, ['room', 'archive', room, '--by', admin.username])).code, 0);
    // No bus from the console: the node reads the audit log and resyncs the room from the store.
    const archived = await member.waitFor((f) => f.type === 'event' && f.kind === 'room_updated', 10_000);
    assert.deepEqual(archived.changes, { archived: true });
    assert.equal((await adminConsole(server, ['room', 'unarchive', room, '--by', admin.username])).code, 0);
    await member.waitFor((f) => f.type === 'event' && f.kind === 'room_updated' && (f.changes as Body).archived === false, 10_000);
    member.close();

    const jobId = await makeDeadJob(server, mallory.id, room);
    const dead = await adminConsole(server, ['dead', EXPORT_QUEUE]);
    assert.ok(dead.out.some((d) => d.id === jobId));
    assert.equal((await adminConsole(server, ['purge', EXPORT_QUEUE, jobId])).out[0]?.purged, 1);
    assert.equal((await adminConsole(server, ['retry', EXPORT_QUEUE, jobId])).code, 1);
    assert.equal((await adminConsole(server, ['grant', mallory.username])).code, 0);
    assert.equal((await call('GET', '/api/v1/admin/users', mallory.token)).status, 200);
    assert.equal((await adminConsole(server, ['revoke', mallory.username, '--by', admin.username])).code, 0);
    assert.equal((await call('GET', '/api/v1/admin/users', mallory.token)).status, 403);

    for (const bad of [['frobnicate'], ['user', 'explode', 'x'], ['users', '--limit', '0'], ['users', '--state', 'sleepy'], ['audit', '--bogus']]) {
      assert.equal((await adminConsole(server, bad)).code, 2, bad.join(' '));
    }
    const log = await adminConsole(server, ['audit', '--limit', '500']);
    const consoleEntries = log.out.filter((e) => e.via === 'console');
    const actions = consoleEntries.map((e) => e.action);
    for (const action of ['user_created', 'password_reset', 'user_disabled', 'user_enabled', 'sessions_revoked', 'user_deleted', 'room_archived', 'room_opened', 'jobs_purged', 'role_granted', 'role_revoked']) {
      assert.ok(actions.includes(action), `${action} at the console is in the audit log`);
    }
    const byAdmin = consoleEntries.filter((e) => e.actor !== null).map((e) => e.action);
    assert.deepEqual(byAdmin.sort(), ['role_revoked', 'room_archived', 'room_opened']);
  });
});
