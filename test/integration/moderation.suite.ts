/**
 * Moderation and room settings against a real server, over REST and WebSocket: roles and ranks,
 * rename, topic and archive, kick, ban, mute, admins deleting messages, restrictions and the
 * audit log, each action a stream event that resumes as it was sent live; bad input. Run
 * against each store (moderation.*.test.ts).
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import { responses } from '../../src/protocol/responses.js';
import type { Json } from '../support/json.js';
import { api, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { type Frame, WsTestClient } from '../support/ws-client.js';

/** Everything the server sent before this returns has been received (frames of one connection are ordered). */
export async function settled(client: WsTestClient): Promise<void> {
  const pongs = client.frames.filter((f) => f.type === 'pong').length;
  client.sendRaw(JSON.stringify({ type: 'ping' }));
  await client.waitFor(() => client.frames.filter((f) => f.type === 'pong').length > pongs);
}

const reasonOf = (body: Json): unknown => (body as { error?: { details?: { reason?: unknown } } }).error?.details?.reason;

export function moderationSuite(label: string, config: () => Promise<Partial<Config>>): void {
  describe(`moderation (${label})`, () => {
    let server: TestServer;
    let base: string;
    let owner: TestUser;
    let admin: TestUser;
    let carol: TestUser;
    let dave: TestUser;
    let eve: TestUser;
    let room: string;
    const open: WsTestClient[] = [];

    const call = (user: TestUser, method: string, path: string, body?: unknown) => api(base, method, path, { token: user.token, ...(body === undefined ? {} : { body }) });
    /** Asserts a 403 with that reason. */
    const refused = async (reason: string, user: TestUser, method: string, path: string, body?: unknown) => {
      const res = await call(user, method, path, body);
      assert.equal(res.status, 403, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'forbidden');
      assert.equal(reasonOf(res.body), reason, `${method} ${path}: ${JSON.stringify(res.body)}`);
    };
    const ok = async (status: number, user: TestUser, method: string, path: string, body?: unknown) => {
      const res = await call(user, method, path, body);
      assert.equal(res.status, status, `${method} ${path}: ${JSON.stringify(res.body)}`);
      return res;
    };
    const connect = async (user: TestUser, roomId: string): Promise<WsTestClient> => {
      const client = await WsTestClient.connect(server.wsUrl, { token: user.token });
      open.push(client);
      const reply = await client.request({ type: 'subscribe', roomId });
      assert.equal(reply.ok, true, JSON.stringify(reply));
      return client;
    };
    const joinRoom = (user: TestUser, roomId = room) => ok(200, user, 'POST', `/api/v1/rooms/${roomId}/join`);
    const send = (user: TestUser, body: string, roomId = room) => call(user, 'POST', `/api/v1/rooms/${roomId}/messages`, { body });

    before(async () => {
      server = await startTestServer({ ...(await config()), SEND_RATE_PER_SEC: 1000, SEND_BURST: 1000, AUTH_RATE_PER_MIN: 10_000 });
      base = server.url;
      [owner, admin, carol, dave, eve] = await Promise.all([registerUser(base, 'mowner'), registerUser(base, 'madmin'), registerUser(base, 'carol'), registerUser(base, 'dave'), registerUser(base, 'eve')]);
      room = (await ok(201, owner, 'POST', '/api/v1/rooms', { name: 'Moderated', visibility: 'public' })).body.room.id;
      for (const u of [admin, carol, dave]) await joinRoom(u);
      await ok(204, owner, 'PUT', `/api/v1/rooms/${room}/members/${admin.id}/role`, { role: 'admin' });
    });
    after(async () => {
      for (const c of open) c.close();
      await server.stop();
    });

    it('roles: the owner makes admins; members list them; ranks decide who acts on whom', async () => {
      const members = (await ok(200, carol, 'GET', `/api/v1/rooms/${room}/members`)).body.members as Array<{ user: { id: string }; role: string }>;
      assert.equal(members.find((m) => m.user.id === admin.id)?.role, 'admin');
      assert.equal(members.find((m) => m.user.id === owner.id)?.role, 'owner');
      // A member moderates nothing.
      await refused('role', carol, 'PATCH', `/api/v1/rooms/${room}`, { topic: 'mine' });
      await refused('role', carol, 'POST', `/api/v1/rooms/${room}/members/${dave.id}/kick`);
      await refused('role', carol, 'GET', `/api/v1/rooms/${room}/audit`);
      // An admin acts on members only: not on the owner, not on themselves, and grants no admin.
      await refused('rank', admin, 'POST', `/api/v1/rooms/${room}/members/${owner.id}/kick`);
      await refused('rank', admin, 'PUT', `/api/v1/rooms/${room}/mutes/${admin.id}`, {});
      await refused('rank', admin, 'PUT', `/api/v1/rooms/${room}/members/${carol.id}/role`, { role: 'admin' });
      // Not a member: a public room is forbidden (not_member), a private one does not exist.
      await refused('not_member', eve, 'PATCH', `/api/v1/rooms/${room}`, { topic: 'hello' });
      const secret = (await ok(201, owner, 'POST', '/api/v1/rooms', { name: 'Secret', visibility: 'private' })).body.room.id;
      assert.equal((await call(eve, 'POST', `/api/v1/rooms/${secret}/archive`)).status, 404);
      // A DM has no moderation.
      const dm = (await ok(200, owner, 'POST', '/api/v1/dms', { username: carol.username })).body.room.id;
      await refused('dm', owner, 'POST', `/api/v1/rooms/${dm}/members/${carol.id}/kick`);
      await refused('dm', owner, 'PATCH', `/api/v1/rooms/${dm}`, { name: 'ours' });
      // The role one has already changes nothing (no event).
      const before = (await ok(200, owner, 'GET', `/api/v1/rooms/${room}`)).body.room.lastSeq;
      await ok(204, owner, 'PUT', `/api/v1/rooms/${room}/members/${admin.id}/role`, { role: 'admin' });
      assert.equal((await ok(200, owner, 'GET', `/api/v1/rooms/${room}`)).body.room.lastSeq, before);
    });

    it('settings: rename and topic by an admin, as a room_updated event to subscribers; bad input is validation_failed', async () => {
      const watcher = await connect(carol, room);
      const res = await ok(200, admin, 'PATCH', `/api/v1/rooms/${room}`, { name: '  Renamed  ', topic: 'Be kind' });
      assert.equal(res.body.room.name, 'Renamed');
      assert.equal(res.body.room.topic, 'Be kind');
      const event = await watcher.waitFor((f) => f.type === 'event' && f.kind === 'room_updated');
      assert.deepEqual(event.changes, { name: 'Renamed', topic: 'Be kind' });
      assert.equal((event.user as Frame).id, admin.id);
      assert.equal(event.member, undefined);
      const found = (await ok(200, eve, 'GET', '/api/v1/rooms/public?q=Renamed')).body.rooms as Array<{ id: string }>;
      assert.ok(found.some((r) => r.id === room), 'the new name is found');
      for (const body of [{}, { name: '' }, { name: 'x'.repeat(200) }, { topic: 5 }, { name: 'ok', colour: 'red' }]) {
        const bad = await call(admin, 'PATCH', `/api/v1/rooms/${room}`, body);
        assert.equal(bad.status, 400, JSON.stringify(body));
        assert.equal(bad.body.error.code, 'validation_failed');
      }
    });

    it('archive: readable, but sends, edits and joins are forbidden (archived) until it is opened again', async () => {
      const sent = await ok(201, carol, 'POST', `/api/v1/rooms/${room}/messages`, { body: 'before the archive' });
      const archived = await ok(200, admin, 'POST', `/api/v1/rooms/${room}/archive`);
      assert.equal(archived.body.room.archived, true);
      await refused('archived', carol, 'POST', `/api/v1/rooms/${room}/messages`, { body: 'hello?' });
      await refused('archived', carol, 'PATCH', `/api/v1/rooms/${room}/messages/${sent.body.message.seq}`, { body: 'edited' });
      await refused('archived', eve, 'POST', `/api/v1/rooms/${room}/join`);
      const ws = await connect(carol, room);
      const wsSend = await ws.request({ type: 'send', roomId: room, body: 'over ws' });
      assert.equal(wsSend.ok, false);
      assert.equal(reasonOf({ error: wsSend.error } as Json), 'archived');
      const history = await ok(200, carol, 'GET', `/api/v1/rooms/${room}/messages`);
      assert.ok((history.body.messages as Array<{ body: string }>).some((m) => m.body === 'before the archive'));
      const reopened = await ok(200, admin, 'POST', `/api/v1/rooms/${room}/unarchive`);
      assert.equal(reopened.body.room.archived, undefined);
      await ok(201, carol, 'POST', `/api/v1/rooms/${room}/messages`, { body: 'open again' });
    });

    it('mute: the member reads but cannot send (muted), also after leaving and rejoining; it ends when lifted or when its time is up', async () => {
      await ok(204, admin, 'PUT', `/api/v1/rooms/${room}/mutes/${carol.id}`, { reason: 'flooding' });
      await refused('muted', carol, 'POST', `/api/v1/rooms/${room}/messages`, { body: 'let me speak' });
      await ok(200, carol, 'GET', `/api/v1/rooms/${room}/messages`);
      await ok(204, carol, 'POST', `/api/v1/rooms/${room}/leave`);
      await joinRoom(carol);
      await refused('muted', carol, 'POST', `/api/v1/rooms/${room}/messages`, { body: 'and now?' });
      // The member list says who is muted (so Carol's own client can tell her when she opens the room).
      const mutedIn = async (who: TestUser): Promise<Array<[string, Json]>> => {
        const list = (await ok(200, who, 'GET', `/api/v1/rooms/${room}/members`)).body;
        responses.Members.parse(list);
        return (list.members as Array<Record<string, Json>>).filter((m) => 'mutedUntil' in m).map((m) => [(m.user as Frame).id as string, m.mutedUntil]);
      };
      assert.deepEqual(await mutedIn(carol), [[carol.id, null]], 'Carol learns of her own mute');
      assert.deepEqual(await mutedIn(admin), [[carol.id, null]], 'a moderator sees every mute');
      assert.deepEqual(await mutedIn(dave), [], 'another member sees no mute but theirs');
      const restrictions = (await ok(200, admin, 'GET', `/api/v1/rooms/${room}/restrictions`)).body.restrictions as Array<Record<string, Json>>;
      const mute = restrictions.find((r) => (r.user as Frame).id === carol.id);
      assert.equal(mute?.kind, 'mute');
      assert.equal(mute?.until, null);
      assert.equal(mute?.reason, 'flooding');
      assert.equal((mute?.createdBy as Frame | undefined)?.id, admin.id);
      await ok(204, admin, 'DELETE', `/api/v1/rooms/${room}/mutes/${carol.id}`);
      await ok(201, carol, 'POST', `/api/v1/rooms/${room}/messages`, { body: 'thanks' });
      assert.deepEqual(await mutedIn(admin), [], 'lifted: nobody is marked');
      // Lifting a mute that is not in force changes nothing.
      await ok(204, admin, 'DELETE', `/api/v1/rooms/${room}/mutes/${carol.id}`);
      await ok(204, admin, 'PUT', `/api/v1/rooms/${room}/mutes/${carol.id}`, { durationS: 1 });
      await refused('muted', carol, 'POST', `/api/v1/rooms/${room}/messages`, { body: 'too soon' });
      const timed = await mutedIn(owner);
      assert.equal(timed.length, 1);
      const ends = Date.parse(String(timed[0]?.[1]));
      assert.ok(ends > Date.now() - 1_000 && ends < Date.now() + 2_000, `a timed mute says when it ends: ${timed[0]?.[1]}`);
      await sleep(1_100);
      assert.deepEqual(await mutedIn(owner), [], 'ended: nobody is marked');
      await ok(201, carol, 'POST', `/api/v1/rooms/${room}/messages`, { body: 'my time is up' });
    });

    it('kick: the member gets member_kicked, then room_removed, then nothing more of the room; they may join again', async () => {
      const kicked = await connect(dave, room);
      const watcher = await connect(owner, room);
      await ok(204, admin, 'POST', `/api/v1/rooms/${room}/members/${dave.id}/kick`, { reason: 'off topic' });
      const event = await kicked.waitFor((f) => f.type === 'event' && f.kind === 'member_kicked');
      assert.equal((event.member as Frame).id, dave.id);
      assert.equal((event.user as Frame).id, admin.id);
      assert.equal(event.reason, 'off topic');
      await kicked.waitFor((f) => f.type === 'room_removed' && f.roomId === room);
      await watcher.waitFor((f) => f.type === 'event' && f.kind === 'member_kicked');
      await ok(201, owner, 'POST', `/api/v1/rooms/${room}/messages`, { body: 'after the kick' });
      await watcher.waitFor((f) => f.type === 'event' && f.kind === 'message' && (f.message as Frame).body === 'after the kick');
      await settled(kicked);
      assert.equal(kicked.events(room).at(-1)?.kind, 'member_kicked', 'nothing after the kick');
      await refused('not_member', dave, 'GET', `/api/v1/rooms/${room}/messages`);
      assert.equal((await kicked.request({ type: 'subscribe', roomId: room })).ok, false);
      assert.equal((await call(admin, 'POST', `/api/v1/rooms/${room}/members/${dave.id}/kick`)).status, 404, 'not a member any more');
      await joinRoom(dave);
    });

    it('ban: removed at once, cannot rejoin or be added (banned) until unbanned or the time is up', async () => {
      const banned = await connect(dave, room);
      await ok(204, admin, 'PUT', `/api/v1/rooms/${room}/bans/${dave.id}`, { reason: 'spam' });
      const event = await banned.waitFor((f) => f.type === 'event' && f.kind === 'member_banned');
      assert.equal(event.until, null);
      assert.equal(event.reason, 'spam');
      await banned.waitFor((f) => f.type === 'room_removed' && f.roomId === room);
      await send(owner, 'after the ban');
      await settled(banned);
      assert.equal(banned.events(room).at(-1)?.kind, 'member_banned');
      await refused('banned', dave, 'POST', `/api/v1/rooms/${room}/join`);
      await refused('banned', carol, 'POST', `/api/v1/rooms/${room}/members`, { username: dave.username });
      await ok(204, admin, 'DELETE', `/api/v1/rooms/${room}/bans/${dave.id}`);
      await joinRoom(dave);
      // A timed ban, of someone who is not a member yet.
      await ok(204, admin, 'PUT', `/api/v1/rooms/${room}/bans/${eve.id}`, { durationS: 1 });
      const list = (await ok(200, owner, 'GET', `/api/v1/rooms/${room}/restrictions`)).body.restrictions as Array<Record<string, Json>>;
      assert.equal(typeof list.find((r) => (r.user as Frame).id === eve.id)?.until, 'string');
      await refused('banned', eve, 'POST', `/api/v1/rooms/${room}/join`);
      await sleep(1_100);
      await joinRoom(eve);
    });

    it('a ban racing a join never leaves the banned user a member (10 trials)', async () => {
      for (let i = 0; i < 10; i++) {
        const racer = await registerUser(base, 'racer');
        const [join, ban] = await Promise.all([call(racer, 'POST', `/api/v1/rooms/${room}/join`), call(admin, 'PUT', `/api/v1/rooms/${room}/bans/${racer.id}`, {})]);
        assert.equal(ban.status, 204);
        assert.ok(join.status === 200 || (join.status === 403 && reasonOf(join.body) === 'banned'), JSON.stringify(join.body));
        const members = (await ok(200, owner, 'GET', `/api/v1/rooms/${room}/members`)).body.members as Array<{ user: { id: string } }>;
        assert.ok(!members.some((m) => m.user.id === racer.id), `trial ${i}: the banned user is a member (join ${join.status})`);
        await refused('not_member', racer, 'GET', `/api/v1/rooms/${room}/messages`);
      }
    });

    it('deleting others\' messages goes by rank: admins delete members\', never the owner\'s; members delete only their own', async () => {
      const byCarol = (await ok(201, carol, 'POST', `/api/v1/rooms/${room}/messages`, { body: 'delete me' })).body.message.seq;
      const byOwner = (await ok(201, owner, 'POST', `/api/v1/rooms/${room}/messages`, { body: 'keep me' })).body.message.seq;
      const byAdmin = (await ok(201, admin, 'POST', `/api/v1/rooms/${room}/messages`, { body: 'an admin speaks' })).body.message.seq;
      await refused('rank', carol, 'DELETE', `/api/v1/rooms/${room}/messages/${byAdmin}`);
      await refused('rank', admin, 'DELETE', `/api/v1/rooms/${room}/messages/${byOwner}`);
      await ok(204, admin, 'DELETE', `/api/v1/rooms/${room}/messages/${byCarol}`);
      await ok(204, owner, 'DELETE', `/api/v1/rooms/${room}/messages/${byAdmin}`);
      const ws = await connect(carol, room);
      const reply = await ws.request({ type: 'delete', roomId: room, seq: byOwner });
      assert.equal(reply.ok, false);
      assert.equal(reasonOf({ error: reply.error } as Json), 'rank');
    });

    it('bad input: unknown users, durations, roles, reasons', async () => {
      assert.equal((await call(admin, 'POST', `/api/v1/rooms/${room}/members/nobody/kick`)).status, 404);
      assert.equal((await call(admin, 'PUT', `/api/v1/rooms/${room}/mutes/nobody`, {})).status, 404);
      for (const [method, path, body] of [
        ['PUT', `/api/v1/rooms/${room}/bans/${carol.id}`, { durationS: 0 }],
        ['PUT', `/api/v1/rooms/${room}/bans/${carol.id}`, { durationS: 1.5 }],
        ['PUT', `/api/v1/rooms/${room}/bans/${carol.id}`, { durationS: '60' }],
        ['PUT', `/api/v1/rooms/${room}/mutes/${carol.id}`, { reason: 'x'.repeat(501) }],
        ['PUT', `/api/v1/rooms/${room}/mutes/${carol.id}`, { until: 5 }],
        ['POST', `/api/v1/rooms/${room}/members/${carol.id}/kick`, { reason: 7 }],
        ['PUT', `/api/v1/rooms/${room}/members/${carol.id}/role`, { role: 'owner' }],
        ['PUT', `/api/v1/rooms/${room}/members/${carol.id}/role`, {}],
      ] as const) {
        const res = await call(owner, method, path, body);
        assert.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'validation_failed');
      }
      for (const query of ['limit=0', 'limit=101', 'before=x', 'colour=red']) assert.equal((await call(owner, 'GET', `/api/v1/rooms/${room}/audit?${query}`)).status, 400, query);
    });

    it('audit log: every action, newest first, paged by before; events resume as they were sent live', async () => {
      const first = await ok(200, owner, 'GET', `/api/v1/rooms/${room}/audit?limit=3`);
      const entries = first.body.entries as Array<Record<string, Json>>;
      assert.equal(entries.length, 3);
      assert.ok((entries[0]?.seq as number) > (entries[1]?.seq as number));
      let all = [...entries];
      let before = first.body.nextBefore as number | null;
      while (before !== null) {
        const page = await ok(200, admin, 'GET', `/api/v1/rooms/${room}/audit?limit=3&before=${before}`);
        all = all.concat(page.body.entries as Array<Record<string, Json>>);
        before = page.body.nextBefore as number | null;
      }
      const actions = all.map((e) => e.action).reverse();
      for (const action of ['member_role_changed', 'room_updated', 'member_muted', 'member_unmuted', 'member_kicked', 'member_banned', 'member_unbanned']) assert.ok(actions.includes(action), action);
      const kick = all.find((e) => e.action === 'member_kicked');
      assert.equal((kick?.member as Frame | undefined)?.id, dave.id);
      assert.equal(kick?.reason, 'off topic');
      // The stream replays each moderation event with the fields it had live.
      const ws = await WsTestClient.connect(server.wsUrl, { token: owner.token });
      open.push(ws);
      assert.equal((await ws.request({ type: 'subscribe', roomId: room, since: 0 })).ok, true);
      await settled(ws);
      const replayed = ws.events(room).filter((e) => e.kind === 'member_kicked');
      assert.equal(replayed.length, 1);
      assert.equal((replayed[0]?.member as Frame | undefined)?.id, dave.id);
      assert.equal(replayed[0]?.reason, 'off topic');
      const renamed = ws.events(room).find((e) => e.kind === 'room_updated');
      assert.deepEqual(renamed?.changes, { name: 'Renamed', topic: 'Be kind' });
      const seqs = ws.events(room).map((e) => e.seq as number);
      assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'gapless from 1');
    });
  });
}
