/**
 * A reconnection storm: every subscriber of a room drops at once while messages go on, then all
 * resume with `since`. Each gets exactly what it missed, in order; and the store is asked once
 * per room, not once per client (the catch-up read and the member list are shared and kept in
 * memory; membership checks go together), counted by the store timings of /metrics.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { scrape, type Sample } from '../support/metrics.js';
import { api, createRoom, registerUser, startTestServer, type TestServer } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

let server: TestServer;
before(async () => {
  server = await startTestServer({ SEND_RATE_PER_SEC: 1000, SEND_BURST: 1000 });
});
after(async () => {
  await server?.stop();
});

const hubReads = (samples: Sample[], reason: 'catch_up' | 'gap') =>
  samples.filter((s) => s.name === 'parley_room_hub_event_reads_total' && s.labels.reason === reason).reduce((n, s) => n + s.value, 0);

const calls = (samples: Sample[], operation: string) =>
  samples.filter((s) => s.name === 'parley_store_query_duration_seconds_count' && s.labels.operation === operation).reduce((n, s) => n + s.value, 0);

/** Scrapes until the store's counts stay the same over five scrapes 100 ms apart; the last scrape. */
async function quietStore(): Promise<Sample[]> {
  const total = (samples: Sample[]) => samples.filter((s) => s.name === 'parley_store_query_duration_seconds_count').reduce((n, s) => n + s.value, 0);
  let last = await scrape(server.url);
  for (let still = 0, i = 0; still < 5 && i < 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await scrape(server.url);
    still = total(now) === total(last) ? still + 1 : 0;
    last = now;
  }
  return last;
}

it('resumes every client from memory, with one store read per room, not one per client', async () => {
  const owner = await registerUser(server.url, 'storm');
  const roomId = await createRoom(server.url, owner);
  const CLIENTS = 20;
  const clients: WsTestClient[] = [];
  let since = 0;
  for (let i = 0; i < CLIENTS; i++) {
    const c = await WsTestClient.connect(server.wsUrl, { token: owner.token });
    since = (await c.request({ type: 'subscribe', roomId })).lastSeq as number;
    clients.push(c);
  }
  // Messages the room already had reach everyone live; then everyone drops at once.
  for (let i = 0; i < 3; i++) await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: owner.token, body: { body: `before ${i}` } });
  await Promise.all(clients.map((c) => c.waitForEvents(roomId, 3)));
  since += 3;
  for (const c of clients) c.close();
  await Promise.all(clients.map((c) => c.closed()));

  const MISSED = 5;
  for (let i = 0; i < MISSED; i++) await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: owner.token, body: { body: `missed ${i}` } });
  // The notifier reads each new message off the send path (a job, readEvents too): counting
  // starts once it has read them all and the store has been quiet for a while.
  const before = await quietStore();

  const back = await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      const c = await WsTestClient.connect(server.wsUrl, { token: owner.token });
      const reply = await c.request({ type: 'subscribe', roomId, since });
      assert.equal(reply.ok, true);
      assert.equal(reply.recovered, true);
      return c;
    }),
  );
  for (const c of back) {
    const events = await c.waitForEvents(roomId, MISSED);
    assert.deepEqual(
      events.map((e) => e.seq),
      Array.from({ length: MISSED }, (_, i) => since + 1 + i),
    );
    assert.deepEqual(
      events.map((e) => (e.message as { body: string }).body),
      Array.from({ length: MISSED }, (_, i) => `missed ${i}`),
    );
  }
  const afterStorm = await scrape(server.url);
  const delta = (operation: string) => calls(afterStorm, operation) - calls(before, operation);
  // The room reopens once and its missed events are read once, shared by the twenty.
  assert.ok(delta('readEvents') <= 1, `${delta('readEvents')} catch-up reads for one room`);
  assert.ok(delta('listMemberIds') <= 1, `${delta('listMemberIds')} member list reads for one room`);
  assert.equal(delta('listMembers'), 0, 'no full member rows read');
  assert.ok(delta('findRoom') <= 1, `${delta('findRoom')} room reads`);
  // The subscribes' membership checks (memory does not reach back to where the cache knew them)
  // go to the store together, one read in flight per room: fewer reads than clients.
  assert.equal(delta('membership'), 0, 'no membership read per client');
  assert.ok(delta('membersAmong') >= 1 && delta('membersAmong') < CLIENTS, `${delta('membersAmong')} membership reads for ${CLIENTS} clients`);
  // The room hub's own count says the same: one page read, for the catch-ups, none for gaps.
  assert.equal(hubReads(afterStorm, 'catch_up') - hubReads(before, 'catch_up'), 1);
  assert.equal(hubReads(afterStorm, 'gap') - hubReads(before, 'gap'), 0);

  // A later subscriber resuming from another seq that memory holds costs no read at all.
  const late = await WsTestClient.connect(server.wsUrl, { token: owner.token });
  const beforeLate = await scrape(server.url);
  assert.equal((await late.request({ type: 'subscribe', roomId, since: since + 2 })).ok, true);
  const lateEvents = await late.waitForEvents(roomId, MISSED - 2);
  assert.deepEqual(
    lateEvents.map((e) => e.seq),
    Array.from({ length: MISSED - 2 }, (_, i) => since + 3 + i),
  );
  const afterLate = await scrape(server.url);
  assert.equal(calls(afterLate, 'readEvents') - calls(beforeLate, 'readEvents'), 0);
  assert.equal(hubReads(afterLate, 'catch_up') - hubReads(beforeLate, 'catch_up'), 0);
  for (const c of [...back, late]) c.close();
});

it('never replays from memory the text of a message deleted or edited since', async () => {
  const owner = await registerUser(server.url, 'keeper');
  const roomId = await createRoom(server.url, owner);
  // The owner stays subscribed, so the room stays open and keeps its recent events.
  const stays = await WsTestClient.connect(server.wsUrl, { token: owner.token });
  const since = (await stays.request({ type: 'subscribe', roomId })).lastSeq as number;
  const leaves = await WsTestClient.connect(server.wsUrl, { token: owner.token });
  await leaves.request({ type: 'subscribe', roomId });
  leaves.close();
  await leaves.closed();

  const secret = 'the text that was taken back';
  const first = await stays.request({ type: 'send', roomId, body: secret });
  const second = await stays.request({ type: 'send', roomId, body: 'first draft' });
  const firstSeq = (first.message as { seq: number }).seq;
  const secondSeq = (second.message as { seq: number }).seq;
  assert.equal((await stays.request({ type: 'delete', roomId, seq: firstSeq })).ok, true);
  assert.equal((await stays.request({ type: 'edit', roomId, seq: secondSeq, body: 'final text' })).ok, true);

  const back = await WsTestClient.connect(server.wsUrl, { token: owner.token });
  assert.equal((await back.request({ type: 'subscribe', roomId, since })).ok, true);
  const events = await back.waitForEvents(roomId, 4);
  assert.deepEqual(
    events.map((e) => e.kind),
    ['message', 'message', 'delete', 'edit'],
  );
  const [deleted, edited] = events as Array<{ message: { body: string; deleted: boolean } }>;
  assert.deepEqual([deleted?.message.body, deleted?.message.deleted], ['', true]);
  assert.equal(edited?.message.body, 'final text');
  assert.ok(!JSON.stringify(events).includes(secret), 'the deleted text was replayed');
  stays.close();
  back.close();
});
