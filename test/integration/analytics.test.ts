/**
 * Analytics end to end: a node with the event log on JetStream and analytics in ClickHouse, both
 * servers of the test's own. What is sent over WebSocket and delivered to a subscriber shows up
 * in the admin reports exactly once (messages per room per day, active users, busiest rooms and
 * hours, delivery latency); only a server administrator reads them, and a revocation holds at
 * once. ClickHouse down under traffic: every send is acknowledged and the node stays ready, the
 * analytics group falls behind in the log, and catches up exactly once it is back. A replay
 * from the log (`parley analytics replay`) writes nothing twice, and a rebuild (`--clear`)
 * gives the same counts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runAdminCommand } from '../../src/admin/cli.js';
import { openAdminConsole } from '../../src/admin/console.js';
import type { StoreWithJobs } from '../../src/adapters/sql/job-store.js';
import { runAnalyticsCommand } from '../../src/analytics/cli.js';
import { ClickHouseHttp } from '../../src/adapters/clickhouse/http.js';
import { createLogger } from '../../src/observability/log.js';
import { LATENCY_BUCKETS_MS } from '../../src/pipeline/delivery-latency.js';
import { responses } from '../../src/protocol/responses.js';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { CLICKHOUSE_SERVER, NATS_SERVER, requireBinary, type ServerHandle, startClickHouse, startNats } from '../support/services.js';
import { WsTestClient } from '../support/ws-client.js';

type Json = Record<string, unknown>;

/** Polls `read` until `done` holds of its answer (or `timeoutMs` pass), and answers the last one. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const today = () => new Date().toISOString().slice(0, 10);
const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);

if (requireBinary(NATS_SERVER, 'nats-server', 'Analytics') && requireBinary(CLICKHOUSE_SERVER, 'clickhouse-server', 'Analytics')) {
  describe('analytics from the event log into ClickHouse', { concurrency: false }, () => {
    let nats: ServerHandle;
    let clickhouse: ServerHandle;
    let server: TestServer;
    let admin: TestUser;
    let member: TestUser;
    let other: TestUser;
    let roomId: string;
    let sent = 0;
    const log = createLogger('error', 'json');
    const report = (name: string, token: string, query = `from=${today()}&to=${tomorrow()}`) => api<Json>(server.url, 'GET', `/api/v1/admin/analytics/${name}?${query}`, { token });
    const messagesToday = async () => {
      const res = await report('messages', admin.token, `from=${today()}&to=${tomorrow()}&roomId=${roomId}`);
      return res.status === 200 ? ((res.body.rows as Array<{ messages: number }>)[0]?.messages ?? 0) : -res.status;
    };
    const counted = async () => (((await cli(['status'])).out[0] as Json).analytics as { events: number; ops: number });
    /** `parley admin` against the node's own store, as the console opens it. */
    const adminCli = (args: string[], out: (line: string) => void = () => undefined) => {
      const store = server.parley.services.store as StoreWithJobs;
      return runAdminCommand(args, { store, openConsole: () => openAdminConsole(server.parley.config, log, store), out, err: () => undefined });
    };
    const cli = async (args: string[]) => {
      const lines: string[] = [];
      const code = await runAnalyticsCommand(args, server.parley.config, log, { openStore: async () => ({ store: server.parley.services.store, close: async () => undefined }), out: (l) => lines.push(l) });
      return { code, out: lines.map((l) => JSON.parse(l) as Json) };
    };

    /** Sends `count` messages as the admin over WebSocket, the member subscribed; all acknowledged. */
    async function sendAll(sender: WsTestClient, count: number, label: string): Promise<void> {
      for (let i = 0; i < count; i++) {
        const reply = await sender.request({ type: 'send', roomId, body: `${label} ${i}` }, 15_000);
        assert.equal(reply.ok, true, JSON.stringify(reply));
        sent += 1;
      }
    }

    before(async () => {
      nats = await startNats({ jetStream: true });
      clickhouse = await startClickHouse();
      for (let attempt = 0; ; attempt++) {
        try {
          server = await startTestServer({
            EVENT_LOG: 'jetstream',
            EVENT_LOG_URL: nats.url,
            EVENT_LOG_TIMEOUT_MS: 1_000,
            ANALYTICS: 'clickhouse',
            ANALYTICS_URL: clickhouse.url,
            ANALYTICS_DATABASE: 'parley_it',
            ANALYTICS_FLUSH_MS: 100,
            ANALYTICS_TIMEOUT_MS: 2_000,
            SEND_RATE_PER_SEC: 1_000,
            SEND_BURST: 1_000,
          });
          break;
        } catch (error) {
          // JetStream may still be starting when its port opens.
          if (attempt >= 20) throw error;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      admin = await registerUser(server.url, 'boss');
      member = await registerUser(server.url, 'member');
      other = await registerUser(server.url, 'other');
      roomId = await createRoom(server.url, admin, 'public', 'analytics room');
      assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: member.token })).status, 200);
      const lines: string[] = [];
      assert.equal(await adminCli(['grant', admin.username], (l) => lines.push(l)), 0);
      assert.deepEqual(JSON.parse(lines[0] as string), { username: admin.username, userId: admin.id, role: 'admin' });
    });

    after(async () => {
      await server?.stop();
      await clickhouse?.stop();
      await nats?.stop();
    });

    it('only a server administrator reads the reports; bad ranges are validation errors', async () => {
      assert.equal((await api(server.url, 'GET', '/api/v1/admin/analytics/messages')).status, 401);
      const refused = await report('messages', other.token);
      assert.equal(refused.status, 403);
      assert.deepEqual((refused.body.error as Json).code, 'forbidden');
      assert.deepEqual((refused.body.error as Json).details, { reason: 'server_role' });
      for (const query of ['from=yesterday', 'from=2026-13-45', `from=${tomorrow()}&to=${today()}`, 'from=1900-01-01&to=2026-01-01', 'limit=0', 'limit=5000', 'sort=desc']) {
        const res = await report('messages', admin.token, query);
        assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
        assert.equal((res.body.error as Json).code, 'validation_failed');
      }
      // A non-admin is refused before anything else is looked at.
      assert.equal((await report('messages', other.token, 'from=yesterday')).status, 403);
      assert.equal((await api(server.url, 'GET', '/api/v1/admin/analytics/everything', { token: admin.token })).status, 404);
      const lines: string[] = [];
      assert.equal(await adminCli(['grant', 'nobody_here'], (l) => lines.push(l)), 1);
      assert.equal(await adminCli(['grant']), 2);
    });

    it('what was sent and delivered is in every report, once', async () => {
      const receiver = await WsTestClient.connect(server.wsUrl, { token: member.token });
      assert.equal((await receiver.request({ type: 'subscribe', roomId })).ok, true);
      const sender = await WsTestClient.connect(server.wsUrl, { token: admin.token });
      await sendAll(sender, 30, 'counted');
      await receiver.waitForEvents(roomId, 30);
      sender.close();
      receiver.close();

      assert.equal(await until(messagesToday, (n) => n >= sent), sent);
      const messages = await report('messages', admin.token);
      assert.equal(messages.status, 200);
      responses.AnalyticsMessages.parse(messages.body);

      const active = await until(
        () => report('active-users', admin.token),
        (res) => (res.body.daily as Array<{ users: number }> | undefined)?.[0]?.users === 2,
      );
      responses.AnalyticsActiveUsers.parse(active.body);
      // The admin sent (and created the room), the member joined and connected; the other did neither.
      assert.deepEqual(active.body.daily, [{ day: today(), users: 2 }]);
      assert.deepEqual(active.body.monthly, [{ month: today().slice(0, 7), users: 2 }]);

      const rooms = await report('busiest-rooms', admin.token);
      responses.AnalyticsBusiestRooms.parse(rooms.body);
      assert.deepEqual(rooms.body.rooms, [{ roomId, name: 'analytics room', visibility: 'public', messages: sent, senders: 1 }]);

      const hours = await report('busiest-hours', admin.token);
      responses.AnalyticsBusiestHours.parse(hours.body);
      const byHour = hours.body.hours as Array<{ hour: number; messages: number }>;
      assert.equal(byHour.length, 24);
      assert.equal(byHour.reduce((sum, h) => sum + h.messages, 0), sent);

      // Each node sends its latency histogram every 10 s.
      const latency = await until(
        () => report('delivery-latency', admin.token),
        (res) => (res.body.deliveries as number) >= sent,
      );
      responses.AnalyticsDeliveryLatency.parse(latency.body);
      assert.ok((latency.body.deliveries as number) >= sent, JSON.stringify(latency.body));
      const { p50Ms, p99Ms } = latency.body as { p50Ms: number; p99Ms: number };
      assert.ok(LATENCY_BUCKETS_MS.includes(p50Ms as never) && LATENCY_BUCKETS_MS.includes(p99Ms as never) && p50Ms <= p99Ms, JSON.stringify(latency.body));
      assert.equal((latency.body.daily as unknown[]).length, 1);

      const cliReport = await cli(['busiest-rooms', '--from', today(), '--to', tomorrow()]);
      assert.equal(cliReport.code, 0);
      assert.deepEqual((cliReport.out[0] as Json).rooms, rooms.body.rooms);
      assert.equal((await cli(['busiest-rooms', '--limit', 'lots'])).code, 2);
      assert.equal((await cli(['nonsense'])).code, 2);
    });

    it('ClickHouse down under traffic: sends acknowledged, node ready, the group falls behind and catches up exactly', async () => {
      await clickhouse.halt({ hard: true });
      const sender = await WsTestClient.connect(server.wsUrl, { token: admin.token });
      await sendAll(sender, 40, 'while analytics is down');
      assert.equal((await api(server.url, 'GET', '/readyz')).status, 200);
      const history = await api<{ messages: unknown[] }>(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?limit=100`, { token: member.token });
      assert.equal(history.body.messages.length, 70);
      const down = await report('messages', admin.token);
      assert.equal(down.status, 503);
      assert.equal((down.body.error as Json).code, 'unavailable');
      // The group's lag, read from the log every 5 s, shows what waits.
      const behind = await until(
        async () => Number(/parley_event_consumer_pending\{group="analytics"\} (\d+)/.exec(await (await fetch(`${server.url}/metrics`)).text())?.[1] ?? 0),
        (pending) => pending >= 40,
        15_000,
      );
      assert.ok(behind >= 40, `analytics lag ${behind}`);
      await sendAll(sender, 10, 'still down');
      sender.close();

      await clickhouse.start();
      assert.equal(await until(messagesToday, (n) => n >= sent, 45_000), sent, 'every message once after the catch-up');
      const status = await cli(['status']);
      assert.equal(status.code, 0);
      // The messages and the room's two joins.
      assert.equal(((status.out[0] as Json).analytics as Json).events, sent + 2);
    });

    it('a table dropped under the consumer is made again; a replay brings back what it held', async () => {
      await new ClickHouseHttp({ url: clickhouse.url, timeoutMs: 5_000 }).exec('DROP TABLE parley_it.stream_events');
      // A report meanwhile is empty, not an error.
      assert.equal((await report('busiest-rooms', admin.token)).status, 200);
      const sender = await WsTestClient.connect(server.wsUrl, { token: admin.token });
      await sendAll(sender, 5, 'after the drop');
      sender.close();
      // Only what came after the drop, until the log is written again.
      assert.equal(await until(messagesToday, (n) => n >= 5), 5);
      assert.equal((await cli(['replay'])).code, 0);
      assert.equal(await until(messagesToday, (n) => n >= sent), sent);
    });

    it('a replay from the log writes nothing twice; a rebuild gives the same counts', async () => {
      const before = await counted();
      assert.equal(before.events, sent + 2, JSON.stringify(before));

      const replay = await cli(['replay', '--from-offset', '1']);
      assert.equal(replay.code, 0);
      assert.deepEqual(replay.out[0], { replay: 'analytics', fromOffset: 1, cleared: false });
      // Let the group go through the whole log again, then count.
      await until(
        async () => (await cli(['status'])).out[0]?.lag as { pending?: number },
        (lag) => lag.pending === 0,
      );
      assert.equal(await messagesToday(), sent);
      assert.equal((await counted()).events, before.events);

      assert.equal((await cli(['replay', '--clear'])).code, 2, 'a rebuild asks for --yes');
      const rebuild = await cli(['replay', '--clear', '--yes']);
      assert.equal(rebuild.code, 0);
      assert.equal(await until(messagesToday, (n) => n >= sent), sent);
      const after = await until(
        counted,
        (counts) => counts.events >= before.events && counts.ops >= before.ops,
      );
      assert.equal(after.events, before.events);
    });

    it('a revoked administrator is refused at once', async () => {
      assert.equal(await adminCli(['revoke', admin.username]), 0);
      assert.equal((await report('messages', admin.token)).status, 403);
      const lines: string[] = [];
      assert.equal(await adminCli(['list'], (l) => lines.push(l)), 0);
      assert.deepEqual(lines, []);
    });
  });
}
