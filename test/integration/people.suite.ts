/**
 * People on a real server (item 6 of issue 13): profiles (PATCH /me, the status line and its
 * expiry, the avatar's URL), user search paged by cursor, GET /users/:id, member lists paged
 * with roles and presence, and `user_updated` reaching the subscribers of the user's rooms.
 * Bad input and non-members get the exact error. Run against each store (people.*.test.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { Config } from '../../src/config.js';
import { responses } from '../../src/protocol/responses.js';
import type { Json } from '../support/json.js';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const PROFILE_RATE = 6;

export function peopleSuite(label: string, config: () => Promise<Partial<Config>>): void {
  describe(`People (${label})`, () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let eve: TestUser;
    /** Unique to this run, so that searches see only this suite's users. */
    const tag = `p${process.pid % 1000}${Math.floor(Math.random() * 1000)}`;

    const call = (method: string, route: string, options: Parameters<typeof api>[3] = {}) => api<Json>(server.url, method, route, options);
    const register = async (username: string, displayName?: string): Promise<TestUser> => {
      const res = await call('POST', '/api/v1/auth/register', { body: { username, password: 'correct horse battery', ...(displayName === undefined ? {} : { displayName }) } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return { id: String(res.body.user.id), username, token: String(res.body.token) };
    };
    const patchMe = (user: TestUser, body: unknown) => call('PATCH', '/api/v1/me', { token: user.token, body });
    const expectInvalid = async (res: Awaited<ReturnType<typeof call>>, path: string) => {
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'validation_failed');
      assert.ok(
        (res.body.error.details.issues as Json[]).some((i: Json) => i.path === path),
        JSON.stringify(res.body.error),
      );
    };

    before(async () => {
      server = await startTestServer({ ...(await config()), AUTH_RATE_PER_MIN: 10_000, PROFILE_RATE_PER_MIN: PROFILE_RATE });
      [alice, bob, eve] = await Promise.all([registerUser(server.url, 'alice'), registerUser(server.url, 'bob'), registerUser(server.url, 'eve')]);
    });
    after(async () => server.stop());

    describe('profiles', () => {
      it('PATCH /me sets the display name and a status; GET /me and GET /users/:id show them, with the username', async () => {
        const expires = new Date(Date.now() + 3_600_000).toISOString();
        const res = await patchMe(alice, { displayName: 'Alice A.', statusText: 'In a meeting 📅', statusExpiresAt: expires });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.ok(responses.UserResult.safeParse(res.body).success);
        assert.deepEqual(res.body.user, { id: alice.id, username: alice.username, displayName: 'Alice A.', statusText: 'In a meeting 📅', statusExpiresAt: expires });
        assert.deepEqual((await call('GET', '/api/v1/me', { token: alice.token })).body.user, res.body.user);
        const login = await call('POST', '/api/v1/auth/login', { body: { username: alice.username, password: 'correct horse battery' } });
        assert.deepEqual(login.body.user, res.body.user, 'logging in answers the profile too');
        const seen = await call('GET', `/api/v1/users/${alice.id}`, { token: bob.token });
        assert.equal(seen.status, 200);
        assert.deepEqual(seen.body.user, res.body.user);

        // Fields left out stay; null clears the status (and its expiry).
        const cleared = await patchMe(alice, { statusText: null });
        assert.deepEqual(cleared.body.user, { id: alice.id, username: alice.username, displayName: 'Alice A.' });
        const noExpiry = await patchMe(alice, { statusText: 'Around' });
        assert.deepEqual(noExpiry.body.user, { id: alice.id, username: alice.username, displayName: 'Alice A.', statusText: 'Around' });
      });

      it('a status past its expiry is not shown', async () => {
        const user = await registerUser(server.url, 'brief');
        const res = await patchMe(user, { statusText: 'Back in a second', statusExpiresAt: new Date(Date.now() + 1_000).toISOString() });
        assert.equal(res.body.user.statusText, 'Back in a second');
        await new Promise((r) => setTimeout(r, 1_100));
        const later = await call('GET', `/api/v1/users/${user.id}`, { token: bob.token });
        assert.deepEqual(later.body.user, { id: user.id, username: user.username, displayName: user.username });
      });

      it('refuses bad input with validation_failed naming the field', async () => {
        const user = await registerUser(server.url, 'picky');
        await expectInvalid(await patchMe(user, {}), '');
        await expectInvalid(await patchMe(user, { displayName: 'x', admin: true }), 'admin');
        await expectInvalid(await patchMe(user, { displayName: '   ' }), 'displayName');
        await expectInvalid(await patchMe(user, { displayName: 'x'.repeat(65) }), 'displayName');
        await expectInvalid(await patchMe(user, { displayName: 'two\nlines' }), 'displayName');
        await expectInvalid(await patchMe(user, { statusText: '\u200b' }), 'statusText');
        await expectInvalid(await patchMe(user, { statusText: 'x'.repeat(101) }), 'statusText');
        await expectInvalid(await patchMe(user, { statusText: 'rtl \u202e trick' }), 'statusText');
        await expectInvalid(await patchMe(user, { statusText: 42 }), 'statusText');
        await expectInvalid(await patchMe(user, { statusExpiresAt: new Date(Date.now() + 60_000).toISOString() }), 'statusExpiresAt');
        await expectInvalid(await patchMe(user, { statusText: 'Away', statusExpiresAt: 'tomorrow' }), 'statusExpiresAt');
        await expectInvalid(await patchMe(user, { statusText: 'Away', statusExpiresAt: new Date(Date.now() - 1_000).toISOString() }), 'statusExpiresAt');
        const anonymous = await call('PATCH', '/api/v1/me', { body: { displayName: 'Nobody' } });
        assert.equal(anonymous.status, 401);
      });

      it("a display name that reads as another user's username is a conflict; one's own is fine", async () => {
        const user = await registerUser(server.url, 'mimic');
        const clash = await patchMe(user, { displayName: bob.username.toUpperCase() });
        assert.equal(clash.status, 409);
        assert.deepEqual(clash.body.error.details, { field: 'displayName', reason: 'resembles_username' });
        // Cyrillic "а" for the Latin "a": folded, it is alice's username all the same.
        const lookAlike = await patchMe(user, { displayName: alice.username.replace('a', 'а') });
        assert.equal(lookAlike.status, 409);
        const own = await patchMe(user, { displayName: user.username.toUpperCase() });
        assert.equal(own.status, 200);
        // Nothing was written by the refusals.
        assert.equal((await call('GET', '/api/v1/me', { token: user.token })).body.user.displayName, user.username.toUpperCase());
      });

      it('a display name change racing the registration of that username: exactly one of them wins', async () => {
        for (let i = 0; i < 4; i++) {
          const user = await registerUser(server.url, 'racer');
          const name = `race${tag}${i}`;
          const [patched, registered] = await Promise.all([
            patchMe(user, { displayName: name }),
            call('POST', '/api/v1/auth/register', { body: { username: name, password: 'correct horse battery' } }),
          ]);
          const outcome = [patched.status, registered.status].sort();
          assert.ok(
            (patched.status === 200 && registered.status === 409) || (patched.status === 409 && registered.status === 201),
            `round ${i}: ${outcome.join(', ')}`,
          );
        }
      });

      it('is rate-limited per user (PROFILE_RATE_PER_MIN): 429 with Retry-After past it', async () => {
        const user = await registerUser(server.url, 'restless');
        const statuses: number[] = [];
        for (let i = 0; i < PROFILE_RATE + 1; i++) statuses.push((await patchMe(user, { statusText: `mood ${i}` })).status);
        assert.deepEqual(statuses, [...Array(PROFILE_RATE).fill(200), 429]);
        const limited = await patchMe(user, { statusText: 'again' });
        assert.equal(limited.body.error.code, 'rate_limited');
        assert.ok(Number(limited.headers.get('retry-after')) >= 1);
        // Another user's budget is their own.
        assert.equal((await patchMe(eve, { statusText: 'fine' })).status, 200);
      });

      it('the avatar shows as avatarUrl, a new URL for each avatar, gone once removed', async () => {
        const user = await registerUser(server.url, 'pictured');
        const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#36a' } }).png().toBuffer();
        const octets = { 'content-type': 'application/octet-stream' };
        assert.equal((await call('PUT', '/api/v1/me/avatar', { token: user.token, rawBody: png, headers: octets })).status, 204);
        const first = (await call('GET', `/api/v1/users/${user.id}`, { token: bob.token })).body.user.avatarUrl;
        assert.match(String(first), new RegExp(`^/api/v1/users/${user.id}/avatar\\?v=`));
        const image = await call('GET', String(first), { token: bob.token });
        assert.equal(image.status, 200);
        assert.equal(image.headers.get('content-type'), 'image/webp');
        assert.equal((await call('PUT', '/api/v1/me/avatar', { token: user.token, rawBody: png, headers: octets })).status, 204);
        const second = (await call('GET', '/api/v1/me', { token: user.token })).body.user.avatarUrl;
        assert.notEqual(second, first);
        assert.equal((await call('DELETE', '/api/v1/me/avatar', { token: user.token })).status, 204);
        assert.equal((await call('GET', '/api/v1/me', { token: user.token })).body.user.avatarUrl, undefined);
      });

      it('GET /users/:id: any signed-in user; an unknown id is not_found', async () => {
        assert.equal((await call('GET', `/api/v1/users/${bob.id}`, { token: eve.token })).body.user.username, bob.username);
        assert.equal((await call('GET', '/api/v1/users/no-such-user', { token: eve.token })).status, 404);
        assert.equal((await call('GET', `/api/v1/users/${bob.id}`)).status, 401);
      });
    });

    describe('user search', () => {
      let found: TestUser[];
      before(async () => {
        // Usernames with the run's tag, and display names starting with it for two users whose usernames do not.
        found = [];
        for (const suffix of ['c', 'a', 'b']) found.push(await register(`${tag}_${suffix}`, `Someone ${suffix}`));
        found.push(await register(`zz${tag}x`, `${tag.toUpperCase()} Display`));
        found.push(await register(`zz${tag}y`, `${tag} Another`));
      });

      const search = (user: TestUser, query: string) => call('GET', `/api/v1/users?${query}`, { token: user.token });

      it('finds username prefixes first (by username), then display-name prefixes, folded', async () => {
        const res = await search(eve, `q=${tag}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.ok(responses.UserPage.safeParse(res.body).success);
        // Display-name matches by folded display name: "<tag> another" before "<tag> display".
        assert.deepEqual(
          res.body.users.map((u: Json) => u.username),
          [`${tag}_a`, `${tag}_b`, `${tag}_c`, `zz${tag}y`, `zz${tag}x`],
        );
        assert.equal(res.body.next, null);
        // An @ before the username, and any case, find the same.
        const at = await search(eve, `q=${encodeURIComponent(`@${tag.toUpperCase()}_B`)}`);
        assert.deepEqual(
          at.body.users.map((u: Json) => u.id),
          [found[2]?.id],
        );
      });

      it('pages by cursor, without repeats or gaps, whatever the page size', async () => {
        const everything = (await search(eve, `q=${tag}&limit=100`)).body.users.map((u: Json) => u.id);
        for (const limit of [1, 2, 3]) {
          const ids: string[] = [];
          let after: string | null = null;
          for (let pages = 0; pages < 10; pages++) {
            const res = await search(eve, `q=${tag}&limit=${limit}${after === null ? '' : `&after=${encodeURIComponent(after)}`}`);
            assert.equal(res.status, 200);
            assert.ok(res.body.users.length <= limit);
            ids.push(...res.body.users.map((u: Json) => String(u.id)));
            after = res.body.next;
            if (after === null) break;
          }
          assert.equal(after, null, `limit ${limit}: the pages end`);
          assert.deepEqual(ids, everything, `limit ${limit}`);
        }
      });

      it('marks bots and leaves deleted bots out', async () => {
        const made = await call('POST', '/api/v1/bots', { token: alice.token, body: { username: `${tag}_bot` } });
        assert.equal(made.status, 201);
        const listed = await search(eve, `q=${tag}_bot`);
        assert.deepEqual(listed.body.users, [{ id: made.body.bot.id, username: `${tag}_bot`, displayName: `${tag}_bot`, bot: true }]);
        // A bot cannot browse users.
        assert.equal((await search({ ...alice, token: String(made.body.token) }, `q=${tag}`)).status, 403);
        assert.equal((await call('DELETE', `/api/v1/bots/${made.body.bot.id}`, { token: alice.token })).status, 204);
        assert.deepEqual((await search(eve, `q=${tag}_bot`)).body.users, []);
        assert.equal((await call('GET', `/api/v1/users/${made.body.bot.id}`, { token: eve.token })).status, 404);
      });

      it('refuses bad input', async () => {
        await expectInvalid(await search(eve, ''), 'q');
        await expectInvalid(await search(eve, 'q=@'), 'q');
        await expectInvalid(await search(eve, `q=${'x'.repeat(65)}`), 'q');
        await expectInvalid(await search(eve, 'q=a&limit=0'), 'limit');
        await expectInvalid(await search(eve, 'q=a&limit=101'), 'limit');
        await expectInvalid(await search(eve, 'q=a&after=not-a-cursor'), 'after');
        await expectInvalid(await search(eve, `q=a&after=${Buffer.from('["x",1,2,3]').toString('base64url')}`), 'after');
        await expectInvalid(await search(eve, 'q=a&extra=1'), 'extra');
        assert.equal((await call('GET', '/api/v1/users?q=a')).status, 401);
      });
    });

    describe('member lists', () => {
      let room: string;
      let joined: TestUser[];
      before(async () => {
        room = await createRoom(server.url, alice, 'private', 'people');
        joined = [alice];
        for (let i = 0; i < 4; i++) {
          const user = await registerUser(server.url, 'member');
          assert.equal((await call('POST', `/api/v1/rooms/${room}/members`, { token: alice.token, body: { username: user.username } })).status, 200);
          joined.push(user);
        }
      });

      it('pages in join order with roles, profiles and who is online', async () => {
        const ws = await WsTestClient.connect(server.wsUrl, { token: joined[2]?.token as string });
        try {
          // Presence is recorded once the connection is set up: wait until the list says so.
          let online = false;
          for (let i = 0; i < 50 && !online; i++) {
            const page = await call('GET', `/api/v1/rooms/${room}/members`, { token: joined[1]?.token as string });
            online = page.body.members.find((m: Json) => m.user.id === joined[2]?.id)?.online === true;
            if (!online) await new Promise((r) => setTimeout(r, 20));
          }
          assert.ok(online, 'a connected member is online');
          const ids: string[] = [];
          let after: string | null = null;
          const pages: Json[] = [];
          do {
            const res = await call('GET', `/api/v1/rooms/${room}/members?limit=2${after === null ? '' : `&after=${encodeURIComponent(after)}`}`, { token: joined[1]?.token as string });
            assert.equal(res.status, 200, JSON.stringify(res.body));
            assert.ok(responses.Members.safeParse(res.body).success);
            pages.push(res.body);
            ids.push(...res.body.members.map((m: Json) => String(m.user.id)));
            after = res.body.next;
          } while (after !== null && pages.length < 10);
          assert.deepEqual(
            pages.map((p) => p.members.length),
            [2, 2, 1],
          );
          assert.deepEqual(
            ids,
            joined.map((u) => u.id),
          );
          const first = pages[0]?.members[0];
          assert.deepEqual({ role: first.role, username: first.user.username, displayName: first.user.displayName }, { role: 'owner', username: alice.username, displayName: 'Alice A.' });
          assert.equal(first.user.statusText, 'Around', 'profiles are in the list');
          assert.deepEqual(
            pages.flatMap((p) => p.members.map((m: Json) => m.online)),
            [false, false, true, false, false],
          );
          // The default page holds them all.
          const all = await call('GET', `/api/v1/rooms/${room}/members`, { token: alice.token });
          assert.equal(all.body.members.length, 5);
          assert.equal(all.body.next, null);
        } finally {
          ws.close();
        }
      });

      it('a non-member of a private room is not_found; bad paging input is validation_failed', async () => {
        assert.equal((await call('GET', `/api/v1/rooms/${room}/members`, { token: eve.token })).status, 404);
        assert.equal((await call('GET', '/api/v1/rooms/no-such-room/members', { token: eve.token })).status, 404);
        await expectInvalid(await call('GET', `/api/v1/rooms/${room}/members?limit=1001`, { token: alice.token }), 'limit');
        await expectInvalid(await call('GET', `/api/v1/rooms/${room}/members?limit=-1`, { token: alice.token }), 'limit');
        await expectInvalid(await call('GET', `/api/v1/rooms/${room}/members?after=%7B%7D`, { token: alice.token }), 'after');
        // Authorization first: a non-member learns nothing from a bad cursor.
        assert.equal((await call('GET', `/api/v1/rooms/${room}/members?after=zzz`, { token: eve.token })).status, 404);
      });
    });

    describe('user_updated', () => {
      it("reaches the subscribers of the user's rooms (the user's other connections too), and no one else", async () => {
        const room = await createRoom(server.url, alice, 'public', 'live profiles');
        assert.equal((await call('POST', `/api/v1/rooms/${room}/join`, { token: bob.token })).status, 200);
        const outsider = await createRoom(server.url, eve, 'public', 'elsewhere');
        const [bobWs, aliceWs, eveWs] = await Promise.all([
          WsTestClient.connect(server.wsUrl, { token: bob.token }),
          WsTestClient.connect(server.wsUrl, { token: alice.token }),
          WsTestClient.connect(server.wsUrl, { token: eve.token }),
        ]);
        try {
          assert.equal((await bobWs.request({ type: 'subscribe', roomId: room })).ok, true);
          assert.equal((await aliceWs.request({ type: 'subscribe', roomId: room })).ok, true);
          assert.equal((await eveWs.request({ type: 'subscribe', roomId: outsider })).ok, true);
          const res = await patchMe(alice, { statusText: 'Live now' });
          assert.equal(res.status, 200);
          const isUpdate = (f: Json) => f.type === 'user_updated';
          const seen = await bobWs.waitFor(isUpdate);
          assert.deepEqual(seen, { type: 'user_updated', roomId: room, user: res.body.user });
          assert.deepEqual(await aliceWs.waitFor(isUpdate), seen);
          await new Promise((r) => setTimeout(r, 200));
          assert.equal(eveWs.frames.filter(isUpdate).length, 0);
          // A resumed subscription replays the stream only: profile changes are not events of it.
          const resumed = await bobWs.request({ type: 'subscribe', roomId: room, since: 0 });
          assert.equal(resumed.ok, true);
        } finally {
          for (const ws of [bobWs, aliceWs, eveWs]) ws.close();
        }
      });
    });
  });
}
