/**
 * The HTTP and input edge, attacked as a client written from docs/protocol.md alone would:
 * real server, real HTTP (fetch, and raw bytes on a socket where fetch would tidy the attack
 * up), real WebSockets. Each regression test names the defect it pins. Run against each store
 * (protocol.*.test.ts): NUL and unpaired surrogates failed differently on SQLite and PostgreSQL,
 * and cookie sessions are cached in Redis.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import { rawRequest } from '../support/raw-http.js';
import { type ApiResponse, api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const PASSWORD = 'correct horse battery';
/** Characters that must never pass: NUL, a lone high surrogate, a lone low surrogate. */
const POISON = ['\u0000', '\uD800', '\uDFFF'];

/** The error shape of PROTOCOL.md and nothing else; with `field`, `details.issues` names it. */
function assertError(res: ApiResponse, status: number, code: string, field?: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(Object.keys(res.body), ['error'], JSON.stringify(res.body));
  const error = res.body.error as { code: unknown; message: unknown; details?: { issues?: Array<{ path: string }> } };
  assert.equal(error.code, code, JSON.stringify(res.body));
  assert.equal(typeof error.message, 'string');
  for (const key of Object.keys(error)) assert.ok(['code', 'message', 'details'].includes(key), `unexpected ${key}`);
  if (field !== undefined) {
    const paths = (error.details?.issues ?? []).map((i) => i.path);
    assert.ok(paths.includes(field), `issues name ${field}: ${JSON.stringify(error.details)}`);
  }
}

/** The same for an answer read off a socket. */
function assertRawError(res: { status: number; headers: Record<string, string>; body: string; raw: string }, status: number, code: string, notEchoed: string): void {
  assert.equal(res.status, status, res.raw.slice(0, 300));
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  const body = JSON.parse(res.body) as { error: Record<string, unknown> };
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code);
  assert.ok(!res.raw.includes(notEchoed), 'the request is not echoed');
}

export function edgeSuite(label: string, config: () => Promise<Partial<Config>>): void {
  describe(`the edge under attack (${label})`, () => {
    let server: TestServer;
    let base: string;
    let alice: TestUser;
    let bob: TestUser;
    let n = 0;
    const unique = () => `${process.pid % 1000}${++n}`;
    const sockets: WsTestClient[] = [];
    const postJson = (route: string, token: string | undefined, raw: string) =>
      api(base, 'POST', route, { ...(token === undefined ? {} : { token }), rawBody: raw, headers: JSON_TYPE });
    const history = async (roomId: string, user: TestUser) => (await api(base, 'GET', `/api/v1/rooms/${roomId}/messages`, { token: user.token })).body.messages as Array<{ body: string; clientMsgId: string | null }>;
    const register = (body: Record<string, unknown>) => api(base, 'POST', '/api/v1/auth/register', { body: { password: PASSWORD, ...body } });

    before(async () => {
      server = await startTestServer({ ...(await config()), AUTH_RATE_PER_MIN: 100_000, SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000 });
      base = server.url;
      [alice, bob] = await Promise.all([registerUser(base, 'ealice'), registerUser(base, 'ebob')]);
    });
    after(async () => {
      for (const s of sockets) s.close();
      await server.stop();
    });

    describe('bad text never reaches the store', () => {
      it('regression: a message body with U+0000 made the PostgreSQL transaction fail; it is validation_failed naming body, nothing is stored, the next send works', async () => {
        const roomId = await createRoom(base, alice);
        assertError(await postJson(`/api/v1/rooms/${roomId}/messages`, alice.token, '{"body":"before\\u0000after"}'), 400, 'validation_failed', 'body');
        assert.deepEqual(await history(roomId, alice), []);
        const next = await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: 'fine' } });
        assert.equal(next.status, 201);
        assert.equal(next.body.message.seq, 2, 'no seq was spent on the refused send');
      });

      it('regression: a clientMsgId with an unpaired surrogate failed on PostgreSQL and was stored as U+FFFD×3 on SQLite; it is validation_failed naming clientMsgId', async () => {
        const roomId = await createRoom(base, alice);
        for (const lone of ['\\ud800', '\\udc00', 'a\\ud83d']) {
          assertError(await postJson(`/api/v1/rooms/${roomId}/messages`, alice.token, `{"body":"hi","clientMsgId":"${lone}"}`), 400, 'validation_failed', 'clientMsgId');
        }
        assert.deepEqual(await history(roomId, alice), []);
        // A surrogate pair is one character, and is kept as sent.
        const ok = await postJson(`/api/v1/rooms/${roomId}/messages`, alice.token, '{"body":"hi","clientMsgId":"k\\ud83d\\ude00"}');
        assert.equal(ok.status, 201);
        assert.equal((await history(roomId, alice))[0]?.clientMsgId, 'k😀');
      });

      it('regression: U+0000 in a display name or a room name gave 500; it is validation_failed naming the field', async () => {
        assertError(await postJson('/api/v1/auth/register', undefined, `{"username":"nul${unique()}","password":"${PASSWORD}","displayName":"a\\u0000b"}`), 400, 'validation_failed', 'displayName');
        assertError(await postJson('/api/v1/rooms', alice.token, '{"name":"a\\u0000b","visibility":"public"}'), 400, 'validation_failed', 'name');
      });

      it('every string that comes in (bodies, queries, path parameters) refuses U+0000 and unpaired surrogates, naming the field', async () => {
        const roomId = await createRoom(base, alice);
        const seq = (await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: 'target' } })).body.message.seq;
        const bodies: Array<[string, string, (bad: string) => Record<string, unknown>, string, TestUser | undefined]> = [
          ['POST', '/api/v1/auth/register', (bad) => ({ username: `x${bad}y${unique()}`, password: PASSWORD }), 'username', undefined],
          ['POST', '/api/v1/auth/register', (bad) => ({ username: `pw${unique()}`, password: `${PASSWORD}${bad}` }), 'password', undefined],
          ['POST', '/api/v1/auth/login', (bad) => ({ username: `${alice.username}${bad}`, password: PASSWORD }), 'username', undefined],
          ['POST', '/api/v1/auth/login', (bad) => ({ username: alice.username, password: `${PASSWORD}${bad}` }), 'password', undefined],
          ['POST', '/api/v1/rooms', (bad) => ({ name: 'ok', visibility: 'public', topic: `t${bad}` }), 'topic', alice],
          ['POST', `/api/v1/rooms/${roomId}/members`, (bad) => ({ username: `${bob.username}${bad}` }), 'username', alice],
          ['POST', '/api/v1/dms', (bad) => ({ username: `${bob.username}${bad}` }), 'username', alice],
          ['PATCH', `/api/v1/rooms/${roomId}/messages/${seq}`, (bad) => ({ body: `edit${bad}` }), 'body', alice],
        ];
        for (const bad of POISON) {
          for (const [method, route, body, field, user] of bodies) {
            const res = await api(base, method, route, { ...(user === undefined ? {} : { token: user.token }), rawBody: JSON.stringify(body(bad)), headers: JSON_TYPE });
            assertError(res, 400, 'validation_failed', field);
          }
        }
        for (const [route, field] of [
          ['/api/v1/search?q=a%00b', 'q'],
          ['/api/v1/rooms/public?q=%00', 'q'],
          [`/api/v1/search?q=word&roomId=${roomId}%00`, 'roomId'],
          ['/api/v1/rooms/a%00b/messages', 'roomId'],
          ['/api/v1/rooms/a%00b', 'roomId'],
        ] as const) {
          assertError(await api(base, 'GET', route, { token: alice.token }), 400, 'validation_failed', field);
        }
        // An encoded surrogate is not UTF-8: refused as a malformed query or URL.
        assertError(await api(base, 'GET', '/api/v1/search?q=%ED%A0%80', { token: alice.token }), 400, 'validation_failed', 'q');
        assertError(await api(base, 'GET', '/api/v1/rooms/a%ED%A0%80b', { token: alice.token }), 400, 'validation_failed');
        assert.deepEqual((await history(roomId, alice)).map((m) => m.body), ['target']);
      });

      it('control characters: bodies keep tab and line breaks and refuse the rest, DEL and C1; names take none', async () => {
        const roomId = await createRoom(base, alice);
        const ok = await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: 'line 1\r\nline 2\tend' } });
        assert.equal(ok.status, 201);
        for (const c of ['\u0007', '\u001b', '\u007f', '\u0085', '\u009b']) {
          assertError(await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: `bell${c}` } }), 400, 'validation_failed', 'body');
        }
        for (const c of ['\n', '\t', '\u001b', '\u2028']) {
          assertError(await register({ username: `ctl${unique()}`, displayName: `Ada${c}Admin` }), 400, 'validation_failed', 'displayName');
          assertError(await api(base, 'POST', '/api/v1/rooms', { token: alice.token, body: { name: `room${c}x`, visibility: 'public' } }), 400, 'validation_failed', 'name');
        }
        assertError(await api(base, 'POST', '/api/v1/rooms', { token: alice.token, body: { name: 'ok', visibility: 'public', topic: 'esc\u001b[31m' } }), 400, 'validation_failed', 'topic');
        assert.deepEqual((await history(roomId, alice)).map((m) => m.body), ['line 1\r\nline 2\tend']);
      });

      it('Trojan Source: the bidirectional embedding, override and isolate controls are refused in bodies, display names, room names and topics', async () => {
        const roomId = await createRoom(base, alice);
        for (const c of ['\u202A', '\u202B', '\u202C', '\u202D', '\u202E', '\u2066', '\u2067', '\u2068', '\u2069']) {
          assertError(await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: `access ${c}level` } }), 400, 'validation_failed', 'body');
          assertError(await register({ username: `bidi${unique()}`, displayName: `nimda${c}` }), 400, 'validation_failed', 'displayName');
          assertError(await api(base, 'POST', '/api/v1/rooms', { token: alice.token, body: { name: `exe.${c}txt`, visibility: 'public' } }), 400, 'validation_failed', 'name');
          assertError(await api(base, 'POST', '/api/v1/rooms', { token: alice.token, body: { name: 'ok', visibility: 'public', topic: `x${c}` } }), 400, 'validation_failed', 'topic');
        }
        // The right-to-left mark reorders nothing and is needed by right-to-left writers.
        const rtl = await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: 'שלום\u200F!' } });
        assert.equal(rtl.status, 201);
      });

      it('blank-looking bodies and names (spaces, zero-width characters, Hangul fillers, the blank braille pattern) are refused as blank', async () => {
        const roomId = await createRoom(base, alice);
        for (const blank of ['\u200B', '\u200B\u200C\u200D', ' \u2060 ', '\uFEFF', '\u3164', '\u115F\u1160', '\u2800\u2800', '\u3000']) {
          assertError(await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: blank } }), 400, 'validation_failed', 'body');
          assertError(await register({ username: `blank${unique()}`, displayName: blank }), 400, 'validation_failed', 'displayName');
          assertError(await api(base, 'POST', '/api/v1/rooms', { token: alice.token, body: { name: blank, visibility: 'public' } }), 400, 'validation_failed', 'name');
        }
        assert.deepEqual(await history(roomId, alice), []);
      });

      it('WebSocket frames obey the same rules: refused with validation_failed naming the field, nothing stored, the connection lives on', async () => {
        const roomId = await createRoom(base, alice);
        const sent = (await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: 'original' } })).body.message;
        const ws = await WsTestClient.connect(server.wsUrl, { token: alice.token });
        sockets.push(ws);
        const frames: Array<[Record<string, unknown>, string]> = [
          [{ type: 'send', roomId, body: 'a\u0000b' }, 'body'],
          [{ type: 'send', roomId, body: 'hi', clientMsgId: '\uD800' }, 'clientMsgId'],
          [{ type: 'send', roomId, body: '\u200B\u3164' }, 'body'],
          [{ type: 'send', roomId, body: 'x\u001b[2J' }, 'body'],
          [{ type: 'edit', roomId, seq: sent.seq, body: 'pay \u202Eoo1$' }, 'body'],
          [{ type: 'subscribe', roomId: `${roomId}\u0000` }, 'roomId'],
        ];
        for (const [frame, field] of frames) {
          const reply = await ws.request(frame);
          assert.equal(reply.ok, false, JSON.stringify(frame));
          assert.equal(reply.error.code, 'validation_failed');
          assert.ok(reply.error.details.issues.some((i: { path: string }) => i.path === field), JSON.stringify(reply.error));
        }
        const pong = ws.waitNext((f) => f.type === 'pong');
        ws.sendRaw(JSON.stringify({ type: 'ping' }));
        await pong;
        assert.deepEqual((await history(roomId, alice)).map((m) => m.body), ['original']);
      });
    });

    describe('impersonation', () => {
      const fullWidth = (s: string) => [...s].map((c) => (/[!-~]/.test(c) ? String.fromCodePoint((c.codePointAt(0) as number) + 0xfee0) : c)).join('');

      it("regression: a display name equal to another user's username was accepted; it is a conflict naming displayName", async () => {
        const res = await register({ username: `mallory${unique()}`, displayName: alice.username });
        assertError(res, 409, 'conflict');
        assert.equal(res.body.error.details.field, 'displayName');
        assert.match(res.body.error.message, /display name/);
      });

      it('look-alikes of a username are refused the same way: case, Cyrillic and Greek letters, full-width, invisible characters', async () => {
        const u = unique();
        const victim = `apex${u}`;
        assert.equal((await register({ username: victim })).status, 201);
        for (const lookAlike of [`APEX${u}`, `\u0430\u0440\u0435\u0445${u}`, `\u0391\u03A1\u0395\u03A7${u}`, fullWidth(victim), `ap\u200Bex${u}`, `a\u200Dpe\u2060x${u}`, `  Apex${u}  `]) {
          const res = await register({ username: `imp${unique()}`, displayName: lookAlike });
          assertError(res, 409, 'conflict');
          assert.equal(res.body.error.details.field, 'displayName', JSON.stringify(lookAlike));
        }
      });

      it("a new username that an existing user's display name reads as is a conflict naming username", async () => {
        const u = unique();
        assert.equal((await register({ username: `early${u}`, displayName: `\u0421\u0415\u041E${u}` })).status, 201); // Cyrillic СЕО
        const res = await register({ username: `ceo${u}` });
        assertError(res, 409, 'conflict');
        assert.equal(res.body.error.details.field, 'username');
        assert.equal((await register({ username: `ceo${u}x` })).status, 201, 'other usernames are free');
      });

      it('one may show one\'s own username in any case, and share a display name with others', async () => {
        const u = unique();
        const own = await register({ username: `zed${u}`, displayName: `ZED${u}` });
        assert.equal(own.status, 201);
        assert.equal(own.body.user.displayName, `ZED${u}`);
        assert.equal((await register({ username: `alex${u}a`, displayName: 'Alex' })).status, 201);
        assert.equal((await register({ username: `alex${u}b`, displayName: 'Alex' })).status, 201);
      });

      it('regression: registrations of a username and of a display name reading as it, at the same moment: never both', async () => {
        const rounds = Array.from({ length: 8 }, async () => {
          const u = unique();
          const results = await Promise.all([register({ username: `race${u}` }), register({ username: `raci${u}`, displayName: `RACE${u}` })]);
          const statuses = results.map((r) => r.status).sort();
          assert.ok(statuses.every((s) => s === 201 || s === 409), JSON.stringify(statuses));
          assert.deepEqual(statuses, [201, 409], 'exactly one of the two is created');
        });
        await Promise.all(rounds);
      });
    });

    describe('cross-site requests with the session cookie', () => {
      let victim: TestUser;
      let owner: TestUser;
      let privateRoom: string;
      let cookie: string;
      const members = async (roomId: string) => ((await api(base, 'GET', `/api/v1/rooms/${roomId}/members`, { token: owner.token })).body.members as Array<{ user: { id: string } }>).map((m) => m.user.id);
      const stillSignedIn = async () => (await api(base, 'GET', '/api/v1/me', { headers: { cookie } })).status === 200;

      before(async () => {
        [victim, owner] = await Promise.all([registerUser(base, 'victim'), registerUser(base, 'owner')]);
        privateRoom = await createRoom(base, owner, 'private', 'the only copy');
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${privateRoom}/members`, { token: owner.token, body: { username: victim.username } })).status, 200);
        cookie = `parley_session=${victim.token}`;
      });

      it('regression: a text/plain POST with the cookie from a foreign Origin made a member leave a private room for good (or join, or log out); it changes nothing', async () => {
        const publicRoom = await createRoom(base, owner, 'public');
        for (const route of [`/api/v1/rooms/${privateRoom}/leave`, `/api/v1/rooms/${publicRoom}/join`, '/api/v1/auth/logout']) {
          for (const body of ['', 'x=1']) {
            const res = await api(base, 'POST', route, { rawBody: body, headers: { cookie, origin: 'https://evil.example', 'content-type': 'text/plain' } });
            assert.ok(res.status === 400 || res.status === 403, `${route}: ${res.status}`);
            assertError(res, res.status, res.status === 400 ? 'validation_failed' : 'forbidden');
          }
        }
        assert.ok((await members(privateRoom)).includes(victim.id), 'still a member of the private room');
        assert.ok(!(await members(publicRoom)).includes(victim.id), 'not made to join');
        assert.ok(await stillSignedIn(), 'not logged out');
      });

      it('regression: an empty POST with the cookie from another origin, even of the same site (another port, another host name), or from none, is 403 forbidden and changes nothing', async () => {
        const port = new URL(base).port;
        for (const origin of ['https://evil.example', `http://127.0.0.1:${Number(port) + 1}`, `http://localhost:${port}`, 'null', undefined]) {
          for (const route of [`/api/v1/rooms/${privateRoom}/leave`, '/api/v1/auth/logout']) {
            const headers: Record<string, string> = { cookie, ...JSON_TYPE, ...(origin === undefined ? {} : { origin }) };
            assertError(await api(base, 'POST', route, { headers }), 403, 'forbidden');
          }
        }
        assert.ok((await members(privateRoom)).includes(victim.id));
        assert.ok(await stillSignedIn());
      });

      it('PATCH and DELETE with the cookie from a foreign Origin are refused; reads are not concerned', async () => {
        const sent = (await api(base, 'POST', `/api/v1/rooms/${privateRoom}/messages`, { token: victim.token, body: { body: 'keep me' } })).body.message;
        const evil = { cookie, origin: 'https://evil.example' };
        assertError(await api(base, 'DELETE', `/api/v1/rooms/${privateRoom}/messages/${sent.seq}`, { headers: evil }), 403, 'forbidden');
        assertError(await api(base, 'PATCH', `/api/v1/rooms/${privateRoom}/messages/${sent.seq}`, { headers: evil, body: { body: 'defaced' } }), 403, 'forbidden');
        assert.equal((await history(privateRoom, victim)).find((m) => m.body === 'keep me')?.body, 'keep me');
        assert.equal((await api(base, 'GET', '/api/v1/me', { headers: evil })).status, 200);
      });

      it('from its own origin the cookie works, a body-less POST saying Content-Type: application/json; without it, 400', async () => {
        const room = await createRoom(base, owner, 'public');
        const same = { cookie, origin: base };
        assertError(await api(base, 'POST', `/api/v1/rooms/${room}/join`, { headers: same }), 400, 'validation_failed');
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${room}/join`, { headers: { ...same, ...JSON_TYPE } })).status, 200);
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${room}/leave`, { headers: { ...same, 'content-type': 'application/json; charset=utf-8' } })).status, 204);
      });

      it('Bearer calls cannot be forged across sites and keep working without a body or a content type', async () => {
        const user = await registerUser(base, 'bearer');
        const room = await createRoom(base, owner, 'public');
        const headers = { origin: 'https://elsewhere.example' };
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${room}/join`, { token: user.token })).status, 200);
        assert.equal((await api(base, 'POST', `/api/v1/rooms/${room}/leave`, { token: user.token, headers })).status, 204);
        assert.equal((await api(base, 'POST', '/api/v1/auth/logout', { token: user.token })).status, 204);
      });

      it('with ALLOWED_ORIGINS, the cookie changes state from those origins only', async () => {
        const other = await startTestServer({ ...(await config()), ALLOWED_ORIGINS: ['https://app.example'], AUTH_RATE_PER_MIN: 100_000 });
        try {
          const user = await registerUser(other.url, 'allowed');
          const room = await createRoom(other.url, user, 'public');
          const jar = `parley_session=${user.token}`;
          assertError(await api(other.url, 'POST', `/api/v1/rooms/${room}/leave`, { headers: { cookie: jar, origin: 'https://evil.example', ...JSON_TYPE } }), 403, 'forbidden');
          assert.equal((await api(other.url, 'POST', `/api/v1/rooms/${room}/leave`, { headers: { cookie: jar, origin: 'https://app.example', ...JSON_TYPE } })).status, 204);
        } finally {
          await other.stop();
        }
      });
    });

    describe('every answer in the error shape, echoing nothing', () => {
      it('regression: Content-Type: application/json; charset=utf-8 was refused; it is accepted, and another charset is validation_failed', async () => {
        const ok = await api(base, 'POST', '/api/v1/rooms', { token: alice.token, rawBody: '{"name":"charset","visibility":"public"}', headers: { 'content-type': 'application/json; charset=utf-8' } });
        assert.equal(ok.status, 201);
        const upper = await api(base, 'POST', '/api/v1/rooms', { token: alice.token, rawBody: '{"name":"charset","visibility":"public"}', headers: { 'content-type': 'Application/JSON;Charset="UTF-8"' } });
        assert.equal(upper.status, 201);
        for (const type of ['application/json; charset=iso-8859-1', 'application/json; charset=utf-16']) {
          assertError(await api(base, 'POST', '/api/v1/rooms', { token: alice.token, rawBody: '{"name":"x","visibility":"public"}', headers: { 'content-type': type } }), 400, 'validation_failed');
        }
      });

      it('any other Content-Type is validation_failed, also on an empty body; an unknown route stays 404', async () => {
        const room = await createRoom(base, alice, 'public');
        for (const [type, body] of [
          ['text/plain', ''],
          ['text/plain', '{"body":"x"}'],
          ['application/x-www-form-urlencoded', 'body=x'],
          ['multipart/form-data; boundary=b', '--b--'],
          ['application/xml', '<x/>'],
        ]) {
          assertError(await api(base, 'POST', `/api/v1/rooms/${room}/messages`, { token: bob.token, rawBody: body, headers: { 'content-type': type as string } }), 400, 'validation_failed');
        }
        assertError(await api(base, 'POST', '/api/v1/nowhere', { token: bob.token, rawBody: 'x', headers: { 'content-type': 'text/plain' } }), 404, 'not_found');
      });

      it('regression: an over-long path parameter and a malformed URL escape came back in the framework\'s shape, quoting the URL; they are validation_failed and quote nothing', async () => {
        const marker = 'MARKER';
        for (const route of [`/api/v1/rooms/${marker.repeat(50)}`, `/api/v1/rooms/${marker}%E0%A4%A`, `/api/v1/rooms/${marker}%ED%A0%80/messages`, `/api/v1/rooms/${marker}%`]) {
          const res = await api(base, 'GET', route, { token: alice.token });
          assertError(res, 400, 'validation_failed');
          assert.ok(!JSON.stringify(res.body).includes(marker), route);
        }
      });

      it('raw HTTP abuse (garbage, an unknown method, two Content-Lengths, chunked with a length, headers over 16 KiB, CONNECT) is answered in the error shape', async () => {
        const marker = 'MARKER';
        const probes: Array<[string, number, string]> = [
          [`${marker} GARBAGE\r\n\r\n`, 400, 'validation_failed'],
          [`FOO /api/v1/${marker} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 400, 'validation_failed'],
          [`POST /api/v1/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{"${marker}":1}`, 400, 'validation_failed'],
          [`POST /api/v1/rooms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`, 400, 'validation_failed'],
          [`GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-${marker}: ${'a'.repeat(20_000)}\r\nConnection: close\r\n\r\n`, 400, 'validation_failed'],
          [`CONNECT ${marker}.example:443 HTTP/1.1\r\nHost: ${marker}.example:443\r\n\r\n`, 404, 'not_found'],
        ];
        for (const [request, status, code] of probes) assertRawError(await rawRequest(base, request), status, code, marker);
      });

      it('odd methods and routes: 404 not_found in the shape; HEAD answers headers only', async () => {
        for (const [method, route] of [
          ['PUT', '/api/v1/rooms'],
          ['DELETE', '/api/v1/rooms'],
          ['OPTIONS', '/api/v1/rooms'],
          // PATCH /api/v1/me is a route (profiles): PATCH of the room list is not.
          ['PATCH', '/api/v1/rooms'],
          ['TRACE', '/api/v1/me'],
          ['PROPFIND', '/api/v1/me'],
        ]) {
          const res = await rawRequest(base, `${method} ${route} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.token}\r\nConnection: close\r\n\r\n`);
          assertRawError(res, 404, 'not_found', alice.token);
        }
        const head = await rawRequest(base, `HEAD /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.token}\r\nConnection: close\r\n\r\n`);
        assert.equal(head.status, 200);
        assert.equal(head.body, '');
      });

      it('JSON oddities: __proto__ and unknown keys refused by name (an odd name is not quoted), deep nesting, 1e400, numbers past 2^53, -0', async () => {
        const roomId = await createRoom(base, alice);
        assertError(await postJson('/api/v1/rooms', alice.token, '{"__proto__":{"admin":true},"name":"x","visibility":"public"}'), 400, 'validation_failed', '__proto__');
        const odd = await postJson('/api/v1/rooms', alice.token, '{"<img src=x onerror=alert(1)>":1,"name":"x","visibility":"public"}');
        assertError(odd, 400, 'validation_failed', '(unnamed)');
        assert.ok(!JSON.stringify(odd.body).includes('<img'));
        assertError(await postJson('/api/v1/rooms', alice.token, `{"name":${'['.repeat(20_000)}${']'.repeat(20_000)},"visibility":"public"}`), 400, 'validation_failed', 'name');
        assertError(await postJson(`/api/v1/rooms/${roomId}/read`, alice.token, '{"seq":1e400}'), 400, 'validation_failed', 'seq');
        assertError(await postJson(`/api/v1/rooms/${roomId}/read`, alice.token, '{"seq":9007199254740993}'), 400, 'validation_failed', 'seq');
        assertError(await postJson(`/api/v1/rooms/${roomId}/read`, alice.token, '{"seq":1.5}'), 400, 'validation_failed', 'seq');
        assert.equal((await postJson(`/api/v1/rooms/${roomId}/read`, alice.token, '{"seq":-0}')).status, 204, '-0 is 0');
        const mine = await api(base, 'GET', '/api/v1/rooms', { token: alice.token });
        assert.equal(mine.body.rooms.find((r: { id: string }) => r.id === roomId).lastReadSeq, 1, 'the marker never moves back');
      });

      it('query oddities: a name given twice, malformed escapes, unknown names', async () => {
        const roomId = await createRoom(base, alice);
        assertError(await api(base, 'GET', `/api/v1/rooms/${roomId}/messages?limit=1&limit=2`, { token: alice.token }), 400, 'validation_failed', 'limit');
        assertError(await api(base, 'GET', '/api/v1/rooms/public?q=%E0%A4%A', { token: alice.token }), 400, 'validation_failed', 'q');
        assertError(await api(base, 'GET', '/api/v1/rooms/public?q=%zz', { token: alice.token }), 400, 'validation_failed', 'q');
        assertError(await api(base, 'GET', `/api/v1/rooms/${roomId}/messages?limit=-0`, { token: alice.token }), 400, 'validation_failed', 'limit');
        assertError(await api(base, 'GET', `/api/v1/rooms/${roomId}/messages?__proto__=1`, { token: alice.token }), 400, 'validation_failed', '__proto__');
      });
    });
  });
}
