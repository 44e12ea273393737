/**
 * Membership and presence cost what they should, counted (not timed) through /metrics and the
 * frames a client receives: a join or leave updates the cached member list in place (no reload),
 * a reconnect storm within the offline grace announces nothing, and a room's presence changes
 * reach a subscriber coalesced and capped per window.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNodePair, type NodePair } from '../support/node-pair.js';
import { scrape, total, type Sample } from '../support/metrics.js';
import { requirePostgres } from '../support/postgres.js';
import { requireRedis } from '../support/redis.js';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { type Frame, WsTestClient } from '../support/ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const storeCalls = (samples: Sample[], operation: string) => total(samples, 'parley_store_query_duration_seconds_count', { operation });
const presenceFrames = (samples: Sample[]) => total(samples, 'parley_presence_frames_total');

async function members(base: string, roomId: string, count: number, prefix: string): Promise<TestUser[]> {
  const users: TestUser[] = [];
  for (let i = 0; i < count; i++) {
    const user = await registerUser(base, prefix);
    assert.equal((await api(base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: user.token })).status, 200);
    users.push(user);
  }
  return users;
}

/** Presence news about `userId` a client received: per-change frames and batch entries. */
function presenceAbout(client: WsTestClient, roomId: string, userIds: Set<string>): Array<{ userId: string; online: boolean }> {
  const seen: Array<{ userId: string; online: boolean }> = [];
  for (const f of client.frames) {
    if (f.roomId !== roomId) continue;
    if (f.type === 'presence' && userIds.has(f.userId as string)) seen.push({ userId: f.userId as string, online: f.online as boolean });
    if (f.type === 'presence_batch') {
      for (const u of f.online as string[]) if (userIds.has(u)) seen.push({ userId: u, online: true });
      for (const u of f.offline as string[]) if (userIds.has(u)) seen.push({ userId: u, online: false });
    }
  }
  return seen;
}

async function subscribeAll(clients: WsTestClient[], roomId: string, extra: Frame = {}): Promise<Frame[]> {
  return Promise.all(clients.map((c) => c.request({ type: 'subscribe', roomId, ...extra })));
}

describe('membership changes update the cached member list in place', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ AUTH_RATE_PER_MIN: 1000 });
  });
  after(async () => {
    await server?.stop();
  });

  it('subscribes after joins and leaves read no member list, and their online lists follow the changes', async () => {
    const owner = await registerUser(server.url, 'owner');
    const roomId = await createRoom(server.url, owner);
    await members(server.url, roomId, 20, 'early');
    const watcher = await WsTestClient.connect(server.wsUrl, { token: owner.token });
    const first = await watcher.request({ type: 'subscribe', roomId });
    assert.deepEqual(first.online, [owner.id]);
    const start = await scrape(server.url);

    // Users already online join; others leave; each change is followed by a fresh subscribe.
    const joiners = await Promise.all(Array.from({ length: 5 }, () => registerUser(server.url, 'joiner')));
    const joinerSockets = await Promise.all(joiners.map((u) => WsTestClient.connect(server.wsUrl, { token: u.token })));
    for (const user of joiners) {
      assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: user.token })).status, 200);
      const probe = await WsTestClient.connect(server.wsUrl, { token: owner.token });
      const reply = await probe.request({ type: 'subscribe', roomId });
      assert.equal(reply.ok, true);
      probe.close();
    }
    for (const user of joiners) await watcher.waitFor((f) => f.type === 'presence' && f.userId === user.id && f.online === true);
    const leaving = joiners.slice(0, 2);
    for (const user of leaving) assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/leave`, { token: user.token })).status, 204);

    const probe = await WsTestClient.connect(server.wsUrl, { token: owner.token });
    const reply = await probe.request({ type: 'subscribe', roomId });
    assert.deepEqual(new Set(reply.online as string[]), new Set([owner.id, ...joiners.slice(2).map((u) => u.id)]), 'joined and online in, left out');
    assert.equal(reply.onlineCount, 4);

    const end = await scrape(server.url);
    assert.equal(storeCalls(end, 'listMemberIds') - storeCalls(start, 'listMemberIds'), 0, 'no member list read after a join or leave');
    assert.equal(storeCalls(end, 'listMembers') - storeCalls(start, 'listMembers'), 0, 'no full member rows read');
    assert.equal(total(end, 'parley_presence_room_loads_total') - total(start, 'parley_presence_room_loads_total'), 0, 'online set kept, not reloaded');
    for (const c of [watcher, probe, ...joinerSockets]) c.close();
  });
});

if ((await requirePostgres('member lists across nodes')) && (await requireRedis('member lists across nodes'))) {
  describe('membership changes across nodes', () => {
    let pair: NodePair;
    before(async () => {
      pair = await startNodePair({ AUTH_RATE_PER_MIN: 1000 });
    });
    after(async () => {
      await pair?.stop();
    });

    it('a join or leave on one node updates the other node’s cached list in place, through the bus', async () => {
      const { a, b } = pair;
      const owner = await registerUser(b.url, 'owner');
      const roomId = await createRoom(b.url, owner);
      await members(a.url, roomId, 10, 'early');
      const watcher = await WsTestClient.connect(b.wsUrl, { token: owner.token });
      await watcher.request({ type: 'subscribe', roomId });
      const start = await scrape(b.url);

      const joiner = await registerUser(a.url, 'joiner');
      const joinerSocket = await WsTestClient.connect(a.wsUrl, { token: joiner.token });
      assert.equal((await api(a.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: joiner.token })).status, 200);
      await watcher.waitFor((f) => f.type === 'event' && f.kind === 'member_joined' && (f.user as { id: string }).id === joiner.id);
      await watcher.waitFor((f) => f.type === 'presence' && f.userId === joiner.id && f.online === true);
      const probe = await WsTestClient.connect(b.wsUrl, { token: owner.token });
      const reply = await probe.request({ type: 'subscribe', roomId });
      assert.deepEqual(new Set(reply.online as string[]), new Set([owner.id, joiner.id]));

      assert.equal((await api(a.url, 'POST', `/api/v1/rooms/${roomId}/leave`, { token: joiner.token })).status, 204);
      await watcher.waitFor((f) => f.type === 'event' && f.kind === 'member_left' && (f.user as { id: string }).id === joiner.id);
      const again = await probe.request({ type: 'subscribe', roomId });
      assert.deepEqual(again.online, [owner.id], 'one who left is not counted online');

      const end = await scrape(b.url);
      assert.equal(storeCalls(end, 'listMemberIds') - storeCalls(start, 'listMemberIds'), 0, 'node b read no member list');
      for (const c of [watcher, probe, joinerSocket]) c.close();
    });
  });
}

describe('a reconnect storm within the offline grace', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ PRESENCE_OFFLINE_GRACE_MS: 1500, PRESENCE_BATCH_MS: 50, AUTH_RATE_PER_MIN: 1000 });
  });
  after(async () => {
    await server?.stop();
  });

  it('announces no presence change at all; those who stay away are announced offline once, after it', async () => {
    const owner = await registerUser(server.url, 'owner');
    const roomId = await createRoom(server.url, owner);
    const users = await members(server.url, roomId, 30, 'storm');
    const ids = new Set(users.map((u) => u.id));
    const full = await WsTestClient.connect(server.wsUrl, { token: owner.token });
    const batch = await WsTestClient.connect(server.wsUrl, { token: owner.token });
    await full.request({ type: 'subscribe', roomId });
    await batch.request({ type: 'subscribe', roomId, presence: 'batch' });
    let sockets = await Promise.all(users.map((u) => WsTestClient.connect(server.wsUrl, { token: u.token })));
    await subscribeAll(sockets, roomId);
    for (const user of users) await full.waitFor((f) => f.type === 'presence' && f.userId === user.id && f.online === true);
    await sleep(200);
    const seenBefore = { full: presenceAbout(full, roomId, ids).length, batch: presenceAbout(batch, roomId, ids).length };
    const start = await scrape(server.url);

    // Everyone drops at once and comes back, resuming.
    for (const s of sockets) s.close();
    await Promise.all(sockets.map((s) => s.closed()));
    sockets = await Promise.all(users.map((u) => WsTestClient.connect(server.wsUrl, { token: u.token })));
    const replies = await subscribeAll(sockets, roomId);
    for (const reply of replies) assert.equal((reply.online as string[]).length, 31, 'everyone counts as online through the storm');
    await sleep(400);
    const end = await scrape(server.url);
    assert.equal(presenceAbout(full, roomId, ids).length, seenBefore.full, 'no presence frame for the storm (full)');
    assert.equal(presenceAbout(batch, roomId, ids).length, seenBefore.batch, 'no presence news for the storm (batch)');
    assert.equal(presenceFrames(end) - presenceFrames(start), 0);
    assert.equal(total(end, 'parley_presence_room_loads_total') - total(start, 'parley_presence_room_loads_total'), 0, 'the room’s online set is kept, not reloaded per subscriber');

    // A third leave for good: each is announced offline exactly once, after the grace.
    const gone = users.slice(0, 10);
    const goneIds = new Set(gone.map((u) => u.id));
    for (const s of sockets.slice(0, 10)) s.close();
    await sleep(300);
    assert.equal(presenceAbout(full, roomId, goneIds).filter((p) => !p.online).length, 0, 'not announced during the grace');
    for (const user of gone) await full.waitFor((f) => f.type === 'presence' && f.userId === user.id && f.online === false, 5000);
    await sleep(300);
    assert.equal(presenceAbout(full, roomId, goneIds).filter((p) => !p.online).length, 10);
    assert.deepEqual(new Set(presenceAbout(batch, roomId, goneIds).filter((p) => !p.online).map((p) => p.userId)), goneIds);
    assert.equal(presenceAbout(batch, roomId, goneIds).filter((p) => !p.online).length, 10, 'each once');
    for (const c of [full, batch, ...sockets]) c.close();
  });
});

describe('presence changes of a room are coalesced and capped per window', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ PRESENCE_FLUSH_MAX: 4, PRESENCE_BATCH_MS: 100, PRESENCE_LIST_MAX: 5, AUTH_RATE_PER_MIN: 1000 });
  });
  after(async () => {
    await server?.stop();
  });

  it('twenty members coming online reach a batch subscriber in frames of at most four, each once, and a full subscriber as one frame each', async () => {
    const owner = await registerUser(server.url, 'owner');
    const roomId = await createRoom(server.url, owner);
    const users = await members(server.url, roomId, 20, 'wave');
    const ids = new Set(users.map((u) => u.id));
    const full = await WsTestClient.connect(server.wsUrl, { token: owner.token });
    const batch = await WsTestClient.connect(server.wsUrl, { token: owner.token });
    const none = await WsTestClient.connect(server.wsUrl, { token: owner.token });
    await full.request({ type: 'subscribe', roomId });
    assert.deepEqual(await batch.request({ type: 'subscribe', roomId, presence: 'batch' }).then((r) => [r.online, r.onlineCount]), [[owner.id], 1]);
    const quiet = await none.request({ type: 'subscribe', roomId, presence: 'none' });
    assert.equal(quiet.online, undefined);
    assert.equal(quiet.onlineCount, undefined);

    const sockets = await Promise.all(users.map((u) => WsTestClient.connect(server.wsUrl, { token: u.token })));
    for (const user of users) await full.waitFor((f) => f.type === 'presence' && f.userId === user.id && f.online === true, 10_000);
    await batch.waitFor((f) => f.type === 'presence_batch' && f.onlineCount === 21, 10_000);
    await sleep(300);

    const batches = batch.frames.filter((f) => f.type === 'presence_batch');
    for (const f of batches) assert.ok((f.online as string[]).length + (f.offline as string[]).length <= 4, `a batch of ${(f.online as string[]).length}`);
    assert.ok(batches.length >= 5, `${batches.length} batches for 20 changes capped at 4`);
    const announced = batches.flatMap((f) => f.online as string[]);
    assert.equal(announced.length, 20, 'each change once');
    assert.deepEqual(new Set(announced), ids);
    assert.equal(presenceAbout(full, roomId, ids).length, 20, 'one presence frame per change');
    assert.equal(none.frames.filter((f) => f.type === 'presence' || f.type === 'presence_batch').length, 0, 'nothing with presence: none');

    // Past PRESENCE_LIST_MAX a batch subscriber's reply carries the count only; a full one, the list.
    const late = await WsTestClient.connect(server.wsUrl, { token: owner.token });
    const counted = await late.request({ type: 'subscribe', roomId, presence: 'batch' });
    assert.equal(counted.online, undefined);
    assert.equal(counted.onlineCount, 21);
    const listed = await late.request({ type: 'subscribe', roomId });
    assert.equal((listed.online as string[]).length, 21);
    for (const c of [full, batch, none, late, ...sockets]) c.close();
  });
});
