/**
 * The Analytics port on ClickHouse, against a server of the test's own (its HTTP interface, a
 * user with a password): the tables made once, every report on known rows, a row written
 * twice counted once, records decoded from the event log's shapes, values that would break a
 * statement, a clear, and what a call does while the server is down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClickHouseAnalytics } from '../../src/adapters/clickhouse/analytics.js';
import { ClickHouseHttp, literal } from '../../src/adapters/clickhouse/http.js';
import { analyticsBatch } from '../../src/pipeline/analytics-consumer.js';
import { LATENCY_BUCKETS_MS, bucketOf, committedAtOf } from '../../src/pipeline/delivery-latency.js';
import { opsRecord, streamRecord } from '../../src/pipeline/records.js';
import type { AnalyticsBatch, LogEntry } from '../../src/ports.js';
import { CLICKHOUSE_SERVER, CLICKHOUSE_USER, requireBinary, type ServerHandle, startClickHouse } from '../support/services.js';

const DAY = 86_400_000;
const D1 = Date.parse('2026-11-02T00:00:00Z');
const D2 = D1 + DAY;
const at = (day: number, hour: number, minute = 0) => day + hour * 3_600_000 + minute * 60_000;

const authed = (server: ServerHandle) => `http://${CLICKHOUSE_USER.name}:${encodeURIComponent(CLICKHOUSE_USER.password)}@127.0.0.1:${server.port}`;

/** Two days: room a busy at 09:00, room b quieter at 17:00, a bot, a join, logins and connections. */
function sample(): AnalyticsBatch {
  const events: AnalyticsBatch['events'] = [];
  for (let i = 1; i <= 5; i++) events.push({ roomId: 'room_a', seq: i, kind: 'message', userId: i % 2 === 0 ? 'u1' : 'u2', bot: false, at: at(D1, 9, i) });
  events.push({ roomId: 'room_a', seq: 6, kind: 'edit', userId: 'u1', bot: false, at: at(D1, 9, 10) });
  events.push({ roomId: 'room_b', seq: 1, kind: 'member_joined', userId: 'u3', bot: false, at: at(D1, 17) });
  events.push({ roomId: 'room_b', seq: 2, kind: 'message', userId: 'u3', bot: false, at: at(D1, 17, 1) });
  events.push({ roomId: 'room_b', seq: 3, kind: 'message', userId: 'bot1', bot: true, at: at(D2, 17, 2) });
  events.push({ roomId: 'room_a', seq: 7, kind: 'message', userId: 'u1', bot: false, at: at(D2, 9) });
  const ops: AnalyticsBatch['ops'] = [
    { id: 'ops:n1:1', name: 'login.succeeded', node: 'n1', userId: 'u4', bot: false, at: at(D2, 8), data: '{}' },
    { id: 'ops:n1:2', name: 'connection.opened', node: 'n1', userId: 'u4', bot: false, at: at(D2, 8, 1), data: '{"connectionId":"c1"}' },
    { id: 'ops:n1:3', name: 'connection.opened', node: 'n1', userId: 'bot1', bot: true, at: at(D2, 8, 2), data: '{}' },
    { id: 'ops:n1:4', name: 'login.failed', node: 'n1', userId: '', bot: false, at: at(D2, 8, 3), data: '{"ip":"127.0.0.1"}' },
  ];
  // Node 1: 90 deliveries at ≤ 5 ms, 9 at ≤ 50 ms, 1 at ≤ 300 ms; node 2 on day 2: 100 at ≤ 10 ms.
  const latency: AnalyticsBatch['latency'] = [
    { id: 'ops:n1:w1', node: 'n1', at: at(D1, 9, 30), leMs: 5, deliveries: 90 },
    { id: 'ops:n1:w1', node: 'n1', at: at(D1, 9, 30), leMs: 50, deliveries: 9 },
    { id: 'ops:n1:w1', node: 'n1', at: at(D1, 9, 30), leMs: 300, deliveries: 1 },
    { id: 'ops:n2:w1', node: 'n2', at: at(D2, 9, 30), leMs: 10, deliveries: 100 },
  ];
  return { events, ops, latency };
}

if (requireBinary(CLICKHOUSE_SERVER, 'clickhouse-server', 'analytics on ClickHouse')) {
  describe('analytics on ClickHouse', { concurrency: false }, () => {
    let server: ServerHandle;
    let analytics: ClickHouseAnalytics;
    const range = { from: D1, to: D2 + DAY };

    before(async () => {
      server = await startClickHouse();
      analytics = new ClickHouseAnalytics({ url: authed(server), database: 'parley_test', timeoutMs: 5_000 });
      await analytics.prepare();
      // Made again: nothing changes.
      await analytics.prepare();
      const batch = sample();
      await analytics.write(batch);
      // The same batch handed again (at least once), and half of it a third time.
      await analytics.write(batch);
      await analytics.write({ events: batch.events.slice(0, 4), ops: batch.ops.slice(0, 2), latency: batch.latency.slice(0, 2) });
    });
    after(async () => {
      await server?.stop();
    });

    it('counts each row once, however many times it was written', async () => {
      assert.deepEqual(await analytics.counts(), { events: 10, ops: 4, latencyWindows: 2 });
    });

    it('messages per room per day, and one room alone', async () => {
      assert.deepEqual(await analytics.messagesPerRoomPerDay(range, { limit: 100 }), [
        { day: '2026-11-02', roomId: 'room_a', messages: 5 },
        { day: '2026-11-02', roomId: 'room_b', messages: 1 },
        { day: '2026-11-03', roomId: 'room_a', messages: 1 },
        { day: '2026-11-03', roomId: 'room_b', messages: 1 },
      ]);
      assert.deepEqual(await analytics.messagesPerRoomPerDay(range, { roomId: 'room_b', limit: 100 }), [
        { day: '2026-11-02', roomId: 'room_b', messages: 1 },
        { day: '2026-11-03', roomId: 'room_b', messages: 1 },
      ]);
      assert.equal((await analytics.messagesPerRoomPerDay(range, { limit: 1 })).length, 1);
      // The range ends before day 2.
      assert.deepEqual(
        (await analytics.messagesPerRoomPerDay({ from: D1, to: D2 }, { limit: 100 })).map((r) => r.day),
        ['2026-11-02', '2026-11-02'],
      );
    });

    it('daily and monthly active users: people who sent, connected or logged in; no bot', async () => {
      assert.deepEqual(await analytics.activeUsers(range), {
        daily: [
          { day: '2026-11-02', users: 3 },
          { day: '2026-11-03', users: 2 },
        ],
        monthly: [{ month: '2026-11', users: 4 }],
      });
    });

    it('busiest rooms, with their distinct senders, and busiest hours', async () => {
      assert.deepEqual(await analytics.busiestRooms(range, 10), [
        { roomId: 'room_a', messages: 6, senders: 2 },
        { roomId: 'room_b', messages: 2, senders: 2 },
      ]);
      const hours = await analytics.busiestHours(range);
      assert.equal(hours.length, 24);
      assert.deepEqual(
        hours.filter((h) => h.messages > 0),
        [
          { hour: 9, messages: 6 },
          { hour: 17, messages: 2 },
        ],
      );
    });

    it('delivery latency percentiles over every node, by bucket bound, and per day', async () => {
      const latency = await analytics.deliveryLatency(range);
      // 200 deliveries: 90 ≤ 5, 100 ≤ 10, 9 ≤ 50, 1 ≤ 300.
      assert.deepEqual(
        { deliveries: latency.deliveries, p50: latency.p50Ms, p90: latency.p90Ms, p99: latency.p99Ms, p999: latency.p999Ms },
        { deliveries: 200, p50: 10, p90: 10, p99: 50, p999: 300 },
      );
      assert.deepEqual(
        latency.daily.map((d) => [d.day, d.deliveries, d.p50Ms, d.p99Ms]),
        [
          ['2026-11-02', 100, 5, 50],
          ['2026-11-03', 100, 10, 10],
        ],
      );
      const none = await analytics.deliveryLatency({ from: D1 - 10 * DAY, to: D1 - 9 * DAY });
      assert.deepEqual(none, { deliveries: 0, p50Ms: null, p90Ms: null, p99Ms: null, p999Ms: null, daily: [] });
    });

    it('a value that would break a statement is only a value', async () => {
      const hostile = "x' OR 1=1 -- \\' ; DROP TABLE parley_test.stream_events";
      assert.deepEqual(await analytics.messagesPerRoomPerDay(range, { roomId: hostile, limit: 10 }), []);
      await analytics.write({ events: [{ roomId: hostile, seq: 1, kind: 'message', userId: "u'\\\n", bot: false, at: at(D1, 3) }], ops: [], latency: [] });
      assert.deepEqual(await analytics.messagesPerRoomPerDay(range, { roomId: hostile, limit: 10 }), [{ day: '2026-11-02', roomId: hostile, messages: 1 }]);
      const ch = new ClickHouseHttp({ url: authed(server), timeoutMs: 5_000 });
      assert.deepEqual(await ch.query(`SELECT ${literal(hostile)} AS v`), [{ v: hostile }]);
    });

    it('a report before anything was written is empty, not an error', async () => {
      const fresh = new ClickHouseAnalytics({ url: authed(server), database: 'parley_fresh', timeoutMs: 5_000 });
      assert.deepEqual(await fresh.busiestRooms(range, 10), []);
      assert.deepEqual(await fresh.counts(), { events: 0, ops: 0, latencyWindows: 0 });
    });

    it('refuses wrong credentials as an error, not an outage', async () => {
      const wrong = new ClickHouseAnalytics({ url: `http://${CLICKHOUSE_USER.name}:nope@127.0.0.1:${server.port}`, database: 'parley_test', timeoutMs: 5_000 });
      await assert.rejects(wrong.counts(), (error: Error & { code?: string }) => error.code !== 'unavailable' && /HTTP 5|HTTP 4|Code: 19[2-4]/.test(error.message));
    });

    it('decodes the event log records: stream events, operational events, latency windows; skips what it cannot read', () => {
      const event = { roomId: 'r1', seq: 4, kind: 'message' as const, target: null, user: { id: 'u1', username: 'u', displayName: 'U', bot: true as const }, createdAt: at(D1, 1), message: null };
      const records = [
        streamRecord(event),
        opsRecord('connection.opened', { userId: 'u2', connectionId: 'c9' }, 'n1', at(D1, 2)),
        opsRecord('delivery.latency', { windowMs: 10_000, deliveries: 7, buckets: [[3, 5], [75, 2], ['x', 1], [5, -1]] }, 'n1', at(D1, 3)),
        { id: 'bad', subject: 'stream.message', data: '{"v":99}' },
        { id: 'bad2', subject: 'ops.x', data: 'not json' },
        // Records that would fail a batch for ever if they reached ClickHouse: no user, a time a DateTime cannot hold.
        { id: 'bad3', subject: 'stream.message', data: JSON.stringify({ v: 1, type: 'stream', event: { ...event, user: undefined } }) },
        { id: 'bad4', subject: 'stream.message', data: JSON.stringify({ v: 1, type: 'stream', event: { ...event, createdAt: -5 } }) },
        { id: 'bad5', subject: 'ops.login.failed', data: JSON.stringify({ v: 1, type: 'ops', name: 'login.failed', node: 'n1', at: 1.5e9 + 0.5 }) },
        { id: 'bad6', subject: 'ops.login.failed', data: JSON.stringify({ v: 1, type: 'ops', name: 'login.failed', node: 'n1', at: 9e15 }) },
      ];
      const entries: LogEntry[] = records.map((r, i) => ({ ...r, offset: i + 1, storedAt: 0, redelivered: 0 }));
      const { batch, skipped } = analyticsBatch(entries);
      assert.equal(skipped, 6);
      assert.deepEqual(batch.events, [{ roomId: 'r1', seq: 4, kind: 'message', userId: 'u1', bot: true, at: at(D1, 1) }]);
      assert.equal(batch.ops.length, 1);
      assert.deepEqual({ ...batch.ops[0], id: undefined }, { id: undefined, name: 'connection.opened', node: 'n1', userId: 'u2', bot: false, at: at(D1, 2), data: '{"connectionId":"c9"}' });
      assert.deepEqual(
        batch.latency.map((l) => [l.leMs, l.deliveries, l.id === records[2]?.id]),
        [
          [3, 5, true],
          [75, 2, true],
        ],
      );
    });

    it('buckets delivery latencies, and reads an event frame\'s commit time', () => {
      assert.equal(LATENCY_BUCKETS_MS[bucketOf(0)], 1);
      assert.equal(LATENCY_BUCKETS_MS[bucketOf(1)], 1);
      assert.equal(LATENCY_BUCKETS_MS[bucketOf(1.5)], 2);
      assert.equal(LATENCY_BUCKETS_MS[bucketOf(120)], 150);
      assert.equal(LATENCY_BUCKETS_MS[bucketOf(10 * 60_000)], 60_000);
      const frame = JSON.stringify({ type: 'event', roomId: 'r', seq: 1, kind: 'message', user: { id: 'u', username: 'u', displayName: 'U' }, createdAt: '2026-11-02T01:02:03.456Z', message: { createdAt: '2020-01-01T00:00:00.000Z' } });
      assert.equal(committedAtOf(frame), Date.parse('2026-11-02T01:02:03.456Z'));
      assert.equal(committedAtOf('{"type":"event"}'), undefined);
      assert.equal(committedAtOf('{"createdAt":"soon"}'), undefined);
    });

    it('is unavailable while the server is down, and answers again once it is back', async () => {
      await server.halt();
      await assert.rejects(analytics.counts(), (error: Error & { code?: string }) => error.code === 'unavailable');
      await assert.rejects(analytics.write(sample()), (error: Error & { code?: string }) => error.code === 'unavailable');
      await server.start();
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          assert.equal((await analytics.counts()).events, 11);
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    });

    it('clear empties every table', async () => {
      await analytics.clear();
      assert.deepEqual(await analytics.counts(), { events: 0, ops: 0, latencyWindows: 0 });
    });
  });
}
