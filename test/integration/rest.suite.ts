/**
 * Every REST row of the protocol against a real server: happy paths, exact errors, bad input,
 * and a non-member trying every room operation. Run against each store (rest.*.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import { api, createRoom, registerUser, searchFresh, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import type { Json } from '../support/json.js';

export function restSuite(label: string, config: () => Promise<Partial<Config>>): void {
  describe(`REST API (${label})`, () => {
    let server: TestServer;
    let base: string;
    let alice: TestUser;
    let bob: TestUser;
    let eve: TestUser;

    before(async () => {
      server = await startTestServer({ ...(await config()), SEND_RATE_PER_SEC: 1000, SEND_BURST: 1000, AUTH_RATE_PER_MIN: 10_000, UNREAD_COUNT_CAP: 5 });
      base = server.url;
      [alice, bob, eve] = await Promise.all([registerUser(base, 'alice'), registerUser(base, 'bob'), registerUser(base, 'eve')]);
    });
    after(async () => server.stop());

    describe('accounts', () => {
      it('registers: 201 with the user and a token, and a session cookie', async () => {
        const res = await api(base, 'POST', '/api/v1/auth/register', { body: { username: 'Carol_1', password: 'long enough', displayName: 'Carol' } });
        assert.equal(res.status, 201);
        assert.deepEqual(Object.keys(res.body.user).sort(), ['displayName', 'id', 'username']);
        assert.equal(res.body.user.username, 'carol_1');
        assert.equal(res.body.user.displayName, 'Carol');
        assert.equal(typeof res.body.token, 'string');
        assert.match(res.headers.get('set-cookie') ?? '', /parley_session=.*HttpOnly.*SameSite=Lax/i);
      });

      it('refuses a taken username whatever its case: 409 conflict', async () => {
        const res = await api(base, 'POST', '/api/v1/auth/register', { body: { username: alice.username.toUpperCase(), password: 'long enough' } });
        assert.equal(res.status, 409);
        assert.equal(res.body.error.code, 'conflict');
      });

      it('validates username and password', async () => {
        for (const body of [
          { username: 'ab', password: 'long enough' },
          { username: 'has space', password: 'long enough' },
          { username: 'x'.repeat(33), password: 'long enough' },
          { username: 'okname', password: 'short' },
          { username: 'okname', password: 'x'.repeat(257) },
          { username: 'okname', password: 12345678 },
          { username: 'okname', password: 'long enough', admin: true },
          {},
        ]) {
          const res = await api(base, 'POST', '/api/v1/auth/register', { body });
          assert.equal(res.status, 400, JSON.stringify(body));
          assert.equal(res.body.error.code, 'validation_failed');
          assert.equal(typeof res.body.error.message, 'string');
        }
      });

      it('logs in with the password, case-insensitively on the username, and sets the cookie', async () => {
        const res = await api(base, 'POST', '/api/v1/auth/login', { body: { username: alice.username.toUpperCase(), password: 'correct horse battery' } });
        assert.equal(res.status, 200);
        assert.equal(res.body.user.id, alice.id);
        const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
        const me = await api(base, 'GET', '/api/v1/me', { headers: { cookie } });
        assert.equal(me.status, 200);
        assert.deepEqual(me.body.user, { id: alice.id, username: alice.username, displayName: alice.username });
      });

      it('refuses a wrong password or unknown user with the same 401', async () => {
        const wrong = await api(base, 'POST', '/api/v1/auth/login', { body: { username: alice.username, password: 'not the password' } });
        const unknown = await api(base, 'POST', '/api/v1/auth/login', { body: { username: 'nobody_here', password: 'not the password' } });
        assert.equal(wrong.status, 401);
        assert.equal(unknown.status, 401);
        assert.equal(wrong.body.error.message, unknown.body.error.message);
      });

      it('GET /me needs a valid token', async () => {
        assert.equal((await api(base, 'GET', '/api/v1/me')).status, 401);
        const bad = await api(base, 'GET', '/api/v1/me', { token: 'garbage' });
        assert.equal(bad.status, 401);
        assert.equal(bad.body.error.code, 'unauthorized');
        assert.equal((await api(base, 'GET', '/api/v1/me', { headers: { authorization: 'Basic abc' } })).status, 401);
      });

      it('logout revokes the token at once', async () => {
        const user = await registerUser(base, 'leaver');
        assert.equal((await api(base, 'GET', '/api/v1/me', { token: user.token })).status, 200);
        assert.equal((await api(base, 'POST', '/api/v1/auth/logout', { token: user.token })).status, 204);
        assert.equal((await api(base, 'GET', '/api/v1/me', { token: user.token })).status, 401);
        assert.equal((await api(base, 'POST', '/api/v1/auth/logout', { token: user.token })).status, 401);
      });
    });

    describe('bad input', () => {
      it('malformed JSON: 400 validation_failed', async () => {
        const res = await api(base, 'POST', '/api/v1/rooms', { token: alice.token, rawBody: '{"name":', headers: { 'content-type': 'application/json' } });
        assert.equal(res.status, 400);
        assert.equal(res.body.error.code, 'validation_failed');
      });

      it('invalid UTF-8: 400 validation_failed', async () => {
        const raw = Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xc3, 0x28]), Buffer.from('","visibility":"public"}')]);
        const res = await api(base, 'POST', '/api/v1/rooms', { token: alice.token, rawBody: raw, headers: { 'content-type': 'application/json' } });
        assert.equal(res.status, 400);
        assert.match(res.body.error.message, /UTF-8/);
      });

      it('a body over the limit: 413 payload_too_large', async () => {
        const res = await api(base, 'POST', '/api/v1/rooms', { token: alice.token, body: { name: 'x'.repeat(70_000), visibility: 'public' } });
        assert.equal(res.status, 413);
        assert.equal(res.body.error.code, 'payload_too_large');
      });

      it('a body that is not JSON: 400', async () => {
        const res = await api(base, 'POST', '/api/v1/rooms', { token: alice.token, rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        assert.equal(res.status, 400);
        assert.equal(res.body.error.code, 'validation_failed');
      });

      it('wrong types and a JSON array body: 400', async () => {
        for (const body of [{ name: 5, visibility: 'public' }, { name: 'x', visibility: 'secret' }, ['x'], 'str', null]) {
          const res = await api(base, 'POST', '/api/v1/rooms', { token: alice.token, body });
          assert.equal(res.status, 400, JSON.stringify(body));
          assert.equal(res.body.error.code, 'validation_failed');
        }
      });

      it('an unknown route: 404 in the error shape', async () => {
        const res = await api(base, 'GET', '/api/v1/nope', { token: alice.token });
        assert.equal(res.status, 404);
        assert.equal(res.body.error.code, 'not_found');
      });

      it('bad query parameters: 400', async () => {
        const roomId = await createRoom(base, alice);
        for (const q of ['limit=0', 'limit=101', 'limit=abc', 'before=-1', 'before=1&after=1', 'unknown=1']) {
          const res = await api(base, 'GET', `/api/v1/rooms/${roomId}/messages?${q}`, { token: alice.token });
          assert.equal(res.status, 400, q);
        }
      });
    });

    describe('rooms', () => {
      it('creates a room: 201, the creator is its owner and first member', async () => {
        const res = await api(base, 'POST', '/api/v1/rooms', { token: alice.token, body: { name: 'General', visibility: 'public', topic: 'Anything' } });
        assert.equal(res.status, 201);
        const room = res.body.room;
        assert.deepEqual(Object.keys(room).sort(), ['createdAt', 'id', 'lastSeq', 'name', 'topic', 'visibility']);
        assert.equal(room.name, 'General');
        assert.equal(room.topic, 'Anything');
        assert.equal(room.lastSeq, 1);
        assert.ok(!Number.isNaN(Date.parse(room.createdAt)));
        const members = await api(base, 'GET', `/api/v1/rooms/${room.id}/members`, { token: alice.token });
        assert.deepEqual(members.body.members.map((m: Json) => [m.user.id, m.role]), [[alice.id, 'owner']]);
      });

      it('lists my rooms with read markers and unread counts', async () => {
        const roomId = await createRoom(base, alice, 'public', 'unread-room');
        await api(base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });
        for (let i = 0; i < 3; i++) await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: bob.token, body: { body: `m${i}` } });
        const mine = await api(base, 'GET', '/api/v1/rooms', { token: alice.token });
        const row = mine.body.rooms.find((r: Json) => r.id === roomId);
        assert.equal(row.unread, 3);
        assert.equal(row.lastReadSeq, 1);
        assert.equal(row.lastSeq, 5);
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${roomId}/read`, { token: alice.token, body: { seq: 4 } })).status, 204);
        const again = await api(base, 'GET', '/api/v1/rooms', { token: alice.token });
        assert.equal(again.body.rooms.find((r: Json) => r.id === roomId).unread, 1);
        // The marker only moves forward.
        await api(base, 'POST', `/api/v1/rooms/${roomId}/read`, { token: alice.token, body: { seq: 2 } });
        const third = await api(base, 'GET', '/api/v1/rooms', { token: alice.token });
        assert.equal(third.body.rooms.find((r: Json) => r.id === roomId).lastReadSeq, 4);
        assert.equal('unreadCapped' in row, false);
      });

      it('counts unread up to UNREAD_COUNT_CAP, then says unreadCapped: true (issue 10)', async () => {
        const roomId = await createRoom(base, alice, 'public', 'capped-room');
        await api(base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });
        const unread = async () => {
          const row = (await api(base, 'GET', '/api/v1/rooms', { token: alice.token })).body.rooms.find((r: Json) => r.id === roomId);
          return { unread: row.unread, unreadCapped: row.unreadCapped };
        };
        for (let i = 0; i < 5; i++) await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: bob.token, body: { body: `m${i}` } });
        assert.deepEqual(await unread(), { unread: 5, unreadCapped: undefined });
        await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: bob.token, body: { body: 'one more' } });
        assert.deepEqual(await unread(), { unread: 5, unreadCapped: true });
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${roomId}/read`, { token: alice.token, body: { seq: 1_000 } })).status, 204);
        assert.deepEqual(await unread(), { unread: 0, unreadCapped: undefined });
      });

      it('discovers public rooms by name, never private ones', async () => {
        const pub = await createRoom(base, alice, 'public', 'Findable Zebra');
        const priv = await createRoom(base, alice, 'private', 'Secret Zebra');
        const res = await api(base, 'GET', '/api/v1/rooms/public?q=zebra&limit=10', { token: eve.token });
        assert.equal(res.status, 200);
        const ids = res.body.rooms.map((r: Json) => r.id);
        assert.ok(ids.includes(pub));
        assert.ok(!ids.includes(priv));
      });

      it('GET a room: public to anyone, private to members only (404 otherwise)', async () => {
        const pub = await createRoom(base, alice, 'public');
        const priv = await createRoom(base, alice, 'private');
        assert.equal((await api(base, 'GET', `/api/v1/rooms/${pub}`, { token: eve.token })).status, 200);
        assert.equal((await api(base, 'GET', `/api/v1/rooms/${priv}`, { token: alice.token })).status, 200);
        const hidden = await api(base, 'GET', `/api/v1/rooms/${priv}`, { token: eve.token });
        assert.equal(hidden.status, 404);
        assert.equal(hidden.body.error.code, 'not_found');
        assert.equal((await api(base, 'GET', '/api/v1/rooms/doesnotexist', { token: eve.token })).status, 404);
      });

      it('join: public rooms only; leave: 204', async () => {
        const pub = await createRoom(base, alice, 'public');
        const priv = await createRoom(base, alice, 'private');
        const joined = await api(base, 'POST', `/api/v1/rooms/${pub}/join`, { token: bob.token });
        assert.equal(joined.status, 200);
        assert.equal(joined.body.room.lastSeq, 2);
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${pub}/join`, { token: bob.token })).body.room.lastSeq, 2, 'joining twice changes nothing');
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${priv}/join`, { token: bob.token })).status, 404);
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${pub}/leave`, { token: bob.token })).status, 204);
        const history = await api(base, 'GET', `/api/v1/rooms/${pub}/messages`, { token: bob.token });
        assert.equal(history.status, 403, 'a former member no longer reads the room');
      });

      it('any member adds someone to a private room', async () => {
        const priv = await createRoom(base, alice, 'private');
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${priv}/members`, { token: alice.token, body: { username: bob.username } })).status, 200);
        const carol = await registerUser(base, 'carol');
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${priv}/members`, { token: bob.token, body: { username: carol.username } })).status, 200);
        const members = await api(base, 'GET', `/api/v1/rooms/${priv}/members`, { token: carol.token });
        assert.deepEqual(members.body.members.map((m: Json) => m.user.id).sort(), [alice.id, bob.id, carol.id].sort());
        assert.equal(members.body.members.every((m: Json) => m.online === false), true);
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${priv}/members`, { token: alice.token, body: { username: 'no_such_user' } })).status, 404);
      });

      it('DMs: one room per pair, from either side', async () => {
        const first = await api(base, 'POST', '/api/v1/dms', { token: alice.token, body: { username: bob.username } });
        assert.equal(first.status, 200);
        assert.equal(first.body.room.visibility, 'dm');
        const second = await api(base, 'POST', '/api/v1/dms', { token: bob.token, body: { username: alice.username.toUpperCase() } });
        assert.equal(second.body.room.id, first.body.room.id);
        assert.equal((await api(base, 'GET', `/api/v1/rooms/${first.body.room.id}`, { token: eve.token })).status, 404);
        assert.equal((await api(base, 'POST', '/api/v1/dms', { token: alice.token, body: { username: alice.username } })).status, 400);
        assert.equal((await api(base, 'POST', '/api/v1/dms', { token: alice.token, body: { username: 'nobody_x' } })).status, 404);
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${first.body.room.id}/members`, { token: alice.token, body: { username: eve.username } })).status, 403);
      });
    });

    describe('messages', () => {
      it('posts, pages history both ways with hasMore', async () => {
        const roomId = await createRoom(base, alice);
        for (let i = 1; i <= 7; i++) {
          const res = await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: `message ${i}` } });
          assert.equal(res.status, 201);
          assert.equal(res.body.message.seq, i + 1);
        }
        const newest = await api(base, 'GET', `/api/v1/rooms/${roomId}/messages?limit=3`, { token: alice.token });
        assert.deepEqual(newest.body.messages.map((m: Json) => m.seq), [8, 7, 6]);
        assert.equal(newest.body.hasMore, true);
        const older = await api(base, 'GET', `/api/v1/rooms/${roomId}/messages?before=6&limit=10`, { token: alice.token });
        assert.deepEqual(older.body.messages.map((m: Json) => m.seq), [5, 4, 3, 2]);
        assert.equal(older.body.hasMore, false);
        const forward = await api(base, 'GET', `/api/v1/rooms/${roomId}/messages?after=3&limit=2`, { token: alice.token });
        assert.deepEqual(forward.body.messages.map((m: Json) => m.seq), [4, 5]);
        assert.equal(forward.body.hasMore, true);
        const m = newest.body.messages[0];
        assert.deepEqual(Object.keys(m).sort(), ['author', 'body', 'clientMsgId', 'createdAt', 'deleted', 'editedAt', 'id', 'roomId', 'seq']);
        assert.deepEqual(m.author, { id: alice.id, username: alice.username, displayName: alice.username });
      });

      it('the same clientMsgId stores one message', async () => {
        const roomId = await createRoom(base, alice);
        const a = await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: 'once', clientMsgId: 'c-1' } });
        const b = await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: 'once', clientMsgId: 'c-1' } });
        assert.equal(a.body.message.id, b.body.message.id);
        assert.equal(b.body.message.clientMsgId, 'c-1');
        const history = await api(base, 'GET', `/api/v1/rooms/${roomId}/messages`, { token: alice.token });
        assert.equal(history.body.messages.length, 1);
      });

      it('validates bodies: blank, too long, wrong type', async () => {
        const roomId = await createRoom(base, alice);
        for (const body of [{ body: '' }, { body: '   ' }, { body: 'x'.repeat(4001) }, { body: 3 }, { text: 'hi' }]) {
          const res = await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body });
          assert.equal(res.status, 400, JSON.stringify(body).slice(0, 40));
        }
        // 4000 characters counted as code points: 4000 emoji are accepted.
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: '😀'.repeat(4000) } })).status, 201);
      });

      it('edits: author only; deletes: author or owner; tombstones keep their seq', async () => {
        const roomId = await createRoom(base, alice);
        await api(base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });
        const sent = await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: bob.token, body: { body: 'typo' } });
        const seq = sent.body.message.seq;
        assert.equal((await api(base, 'PATCH', `/api/v1/rooms/${roomId}/messages/${seq}`, { token: alice.token, body: { body: 'hijack' } })).status, 403);
        const edited = await api(base, 'PATCH', `/api/v1/rooms/${roomId}/messages/${seq}`, { token: bob.token, body: { body: 'fixed' } });
        assert.equal(edited.status, 200);
        assert.equal(edited.body.message.body, 'fixed');
        assert.ok(edited.body.message.editedAt !== null);
        const second = await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: 'mine' } });
        assert.equal((await api(base, 'DELETE', `/api/v1/rooms/${roomId}/messages/${second.body.message.seq}`, { token: bob.token })).status, 403);
        assert.equal((await api(base, 'DELETE', `/api/v1/rooms/${roomId}/messages/${seq}`, { token: alice.token })).status, 204, 'the owner moderates');
        assert.equal((await api(base, 'DELETE', `/api/v1/rooms/${roomId}/messages/${seq}`, { token: bob.token })).status, 404, 'already deleted');
        assert.equal((await api(base, 'PATCH', `/api/v1/rooms/${roomId}/messages/${seq}`, { token: bob.token, body: { body: 'again' } })).status, 404);
        assert.equal((await api(base, 'PATCH', `/api/v1/rooms/${roomId}/messages/9999`, { token: bob.token, body: { body: 'x' } })).status, 404);
        const history = await api(base, 'GET', `/api/v1/rooms/${roomId}/messages`, { token: bob.token });
        const tomb = history.body.messages.find((m: Json) => m.seq === seq);
        assert.equal(tomb.deleted, true);
        assert.equal(tomb.body, '');
      });

      it('searches only the rooms the caller is a member of', async () => {
        const mine = await createRoom(base, alice, 'private');
        const theirs = await createRoom(base, eve, 'private');
        await api(base, 'POST', `/api/v1/rooms/${mine}/messages`, { token: alice.token, body: { body: 'the quarterly kangaroo report' } });
        await api(base, 'POST', `/api/v1/rooms/${theirs}/messages`, { token: eve.token, body: { body: 'eve kangaroo secrets' } });
        const res = await searchFresh(base, '/api/v1/search?q=kangar', alice.token);
        assert.equal(res.status, 200);
        assert.deepEqual(res.body.hits.map((h: Json) => h.message.roomId), [mine]);
        assert.equal(res.body.hits[0].highlight, 'the quarterly <mark>kangaroo</mark> report');
        assert.equal(res.body.truncated, false);
        assert.equal((await api(base, 'GET', `/api/v1/search?q=kangaroo&roomId=${theirs}`, { token: alice.token })).status, 404);
        assert.equal((await api(base, 'GET', '/api/v1/search?q=%22%26%3A*', { token: alice.token })).status, 400);
        assert.equal((await api(base, 'GET', '/api/v1/search', { token: alice.token })).status, 400);
      });
    });

    describe('a non-member tries every room operation', () => {
      let pub: string;
      let priv: string;
      before(async () => {
        pub = await createRoom(base, alice, 'public', 'pub-guarded');
        priv = await createRoom(base, alice, 'private', 'priv-guarded');
        await api(base, 'POST', `/api/v1/rooms/${priv}/messages`, { token: alice.token, body: { body: 'private words' } });
        await api(base, 'POST', `/api/v1/rooms/${pub}/messages`, { token: alice.token, body: { body: 'public words' } });
      });

      const ops = (roomId: string): Array<[string, string, unknown?]> => [
        ['GET', `/api/v1/rooms/${roomId}/messages`],
        ['POST', `/api/v1/rooms/${roomId}/messages`, { body: 'intrusion' }],
        ['PATCH', `/api/v1/rooms/${roomId}/messages/2`, { body: 'intrusion' }],
        ['DELETE', `/api/v1/rooms/${roomId}/messages/2`],
        ['POST', `/api/v1/rooms/${roomId}/read`, { seq: 2 }],
        ['POST', `/api/v1/rooms/${roomId}/members`, { username: eve.username }],
        ['POST', `/api/v1/rooms/${roomId}/leave`],
        ['GET', `/api/v1/search?q=words&roomId=${roomId}`],
      ];

      it('private room: 404 for every operation, nothing changes', async () => {
        for (const [method, route, body] of [...ops(priv), ['GET', `/api/v1/rooms/${priv}`], ['GET', `/api/v1/rooms/${priv}/members`], ['POST', `/api/v1/rooms/${priv}/join`]] as Array<[string, string, unknown?]>) {
          const res = await api(base, method, route, { token: eve.token, ...(body === undefined ? {} : { body }) });
          assert.equal(res.status, 404, `${method} ${route}`);
          assert.equal(res.body.error.code, 'not_found');
        }
        const history = await api(base, 'GET', `/api/v1/rooms/${priv}/messages`, { token: alice.token });
        assert.deepEqual(history.body.messages.map((m: Json) => m.body), ['private words']);
      });

      it('public room not joined: 403 for every operation', async () => {
        for (const [method, route, body] of ops(pub)) {
          const res = await api(base, method, route, { token: eve.token, ...(body === undefined ? {} : { body }) });
          assert.equal(res.status, 403, `${method} ${route}`);
          assert.equal(res.body.error.code, 'forbidden');
        }
      });

      it('search without roomId never returns their messages', async () => {
        const res = await api(base, 'GET', '/api/v1/search?q=words', { token: eve.token });
        assert.deepEqual(res.body.hits, []);
      });
    });

    describe('rate limits', () => {
      it('sends past the burst get 429 rate_limited with Retry-After', async () => {
        const limited = await startTestServer({ ...(await config()), SEND_RATE_PER_SEC: 1, SEND_BURST: 3 });
        try {
          const user = await registerUser(limited.url, 'burst');
          const roomId = await createRoom(limited.url, user);
          // Ten at once: the burst of three passes, and no more than the refill (one a second)
          // while they are answered; the rest are refused (on a slow machine some may refill).
          const started = Date.now();
          const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => api(limited.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: user.token, body: { body: `b${i}` } })));
          const elapsedS = (Date.now() - started) / 1000;
          const statuses = answers.map((a) => a.status);
          const sent = statuses.filter((s) => s === 201).length;
          assert.deepEqual(statuses.filter((s) => s !== 201 && s !== 429), [], 'only sent or refused');
          assert.ok(sent >= 3 && sent <= 3 + Math.ceil(elapsedS), `${sent} sent in ${elapsedS} s`);
          const last = answers.find((a) => a.status === 429) as Json;
          assert.ok(last !== undefined, 'some were refused');
          assert.equal(last.body.error.code, 'rate_limited');
          assert.equal(last.headers.get('retry-after'), '1');
          assert.ok(last.body.error.details.retryAfterMs > 0);
        } finally {
          await limited.stop();
        }
      });
    });
  });
}
