/**
 * /metrics after real traffic: every counter and histogram moves by exactly what the traffic
 * did, and the endpoint is closed to anyone but loopback (or the holder of METRICS_TOKEN).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseMetrics, type Sample, scrape, total } from '../support/metrics.js';
import { REDIS_URL, redisPrefix, requireRedis } from '../support/redis.js';
import { api, createRoom, registerUser, startTestServer, type TestServer } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

describe('metrics', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server?.stop();
  });

  it('count what real traffic did, by the right amounts', async () => {
    const alice = await registerUser(server.url, 'alice');
    const bob = await registerUser(server.url, 'bob');
    const roomId = await createRoom(server.url, alice);
    assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token })).status, 200);

    const before = await scrape(server.url);
    const a = await WsTestClient.connect(server.wsUrl, { token: alice.token });
    const b = await WsTestClient.connect(server.wsUrl, { token: bob.token });
    await a.request({ type: 'subscribe', roomId });
    await b.request({ type: 'subscribe', roomId });
    const SENDS = 7;
    for (let i = 0; i < SENDS; i++) assert.equal((await a.request({ type: 'send', roomId, body: `hello ${i}` })).ok, true);
    // A retry with a used clientMsgId stores nothing new and is no new message.
    await a.request({ type: 'send', roomId, body: 'once', clientMsgId: 'c-1' });
    await a.request({ type: 'send', roomId, body: 'once', clientMsgId: 'c-1' });
    a.sendRaw('{not json');
    await a.waitFor((f) => f.type === 'reply' && f.id === null);
    await b.waitForEvents(roomId, SENDS + 1);
    await a.waitForEvents(roomId, SENDS + 1);
    assert.equal((await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?limit=5`, { token: bob.token })).status, 200);
    assert.equal((await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?limit=5`, { token: 'bad' })).status, 401);
    const afterTraffic = await scrape(server.url);
    const delta = (name: string, labels: Record<string, string> = {}) => total(afterTraffic, name, labels) - total(before, name, labels);

    assert.equal(delta('parley_ws_connects_total'), 2);
    assert.equal(total(afterTraffic, 'parley_ws_connections'), 2);
    assert.equal(delta('parley_messages_sent_total'), SENDS + 1);
    // Each new message reaches both subscribers; the retry delivers nothing.
    assert.equal(delta('parley_events_delivered_total'), 2 * (SENDS + 1));
    assert.equal(delta('parley_ws_frames_sent_total', { type: 'event' }), 2 * (SENDS + 1));
    assert.equal(delta('parley_ws_frames_received_total', { op: 'send' }), SENDS + 2);
    assert.equal(delta('parley_ws_frames_received_total', { op: 'subscribe' }), 2);
    assert.equal(delta('parley_ws_frames_received_total', { op: 'invalid' }), 1);
    assert.equal(delta('parley_ws_frames_sent_total', { type: 'reply' }), 2 + SENDS + 2 + 1);
    assert.equal(delta('parley_send_commit_seconds_count'), SENDS + 2);
    assert.equal(delta('parley_group_commit_batch_size_sum'), SENDS + 2);
    assert.equal(delta('parley_bus_published_total') >= SENDS + 1, true);
    assert.equal(delta('parley_store_query_duration_seconds_count', { operation: 'append', outcome: 'ok' }), delta('parley_group_commit_batch_size_count'));
    assert.equal(delta('parley_http_request_duration_seconds_count', { method: 'GET', route: '/api/v1/rooms/:roomId/messages', status_code: '200' }), 1);
    assert.equal(delta('parley_http_request_duration_seconds_count', { method: 'GET', route: '/api/v1/rooms/:roomId/messages', status_code: '401' }), 1);
    // Each send crossed the bus: published, received and timed (publish to receipt).
    assert.ok(delta('parley_publish_deliver_seconds_count') >= SENDS + 1);
    // Membership is asked on every send and answered from the cache after the first time.
    assert.ok(delta('parley_cache_requests_total', { cache: 'membership', result: 'hit' }) >= SENDS);
    assert.ok(delta('parley_cache_requests_total', { cache: 'member_lists', result: 'miss' }) >= 1);
    // Route patterns, never ids, as labels.
    assert.ok(!afterTraffic.some((s) => Object.values(s.labels).some((v) => v.includes(roomId) || v.includes(alice.id))));

    a.close();
    b.close();
    await a.closed();
    await b.closed();
    let closedScrape: Sample[] = [];
    for (let i = 0; i < 50; i++) {
      closedScrape = await scrape(server.url);
      if (total(closedScrape, 'parley_ws_connections') === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(total(closedScrape, 'parley_ws_connections'), 0);
    assert.equal(total(closedScrape, 'parley_ws_disconnects_total') - total(before, 'parley_ws_disconnects_total'), 2);
  });

  it('include the process: heap, RSS, event-loop lag and utilisation, GC', async () => {
    const samples = await scrape(server.url);
    for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_p50_seconds', 'parley_event_loop_utilization_ratio']) {
      assert.ok(samples.some((s) => s.name === name), `${name} is missing`);
    }
    assert.ok(total(samples, 'process_resident_memory_bytes') > 10 * 2 ** 20);
    assert.ok(samples.some((s) => s.name.startsWith('nodejs_gc_duration_seconds')));
    const elu = total(samples, 'parley_event_loop_utilization_ratio');
    assert.ok(elu >= 0 && elu <= 1, `utilisation ${elu}`);
  });

  it('count refused upgrades and rate-limited sends', async () => {
    const strict = await startTestServer({ SEND_RATE_PER_SEC: 1, SEND_BURST: 1 });
    try {
      const carol = await registerUser(strict.url, 'carol');
      const roomId = await createRoom(strict.url, carol);
      await assert.rejects(WsTestClient.connect(strict.wsUrl, { token: 'nope' }));
      const c = await WsTestClient.connect(strict.wsUrl, { token: carol.token });
      assert.equal((await c.request({ type: 'send', roomId, body: 'one' })).ok, true);
      const refused = await c.request({ type: 'send', roomId, body: 'two' });
      assert.equal(refused.ok, false);
      const samples = await scrape(strict.url);
      assert.equal(total(samples, 'parley_ws_upgrades_refused_total', { status: '401' }), 1);
      assert.equal(total(samples, 'parley_rate_limited_total', { limit: 'send' }), 1);
      c.close();
    } finally {
      await strict.stop();
    }
  });

  it('are served to loopback only, not through a proxy, unless METRICS_TOKEN is set', async () => {
    const relayed = await fetch(`${server.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
    assert.equal(relayed.status, 403);
    assert.equal(((await relayed.json()) as { error: { code: string } }).error.code, 'forbidden');

    const guarded = await startTestServer({ METRICS_TOKEN: 's3cret-scrape' });
    try {
      assert.equal((await fetch(`${guarded.url}/metrics`)).status, 403);
      assert.equal((await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer wrong-token!' } })).status, 403);
      const ok = await fetch(`${guarded.url}/metrics`, { headers: { authorization: 'Bearer s3cret-scrape', 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get('content-type') ?? '', /text\/plain/);
      assert.ok(parseMetrics(await ok.text()).some((s) => s.name === 'parley_ws_connections'));
    } finally {
      await guarded.stop();
    }
  });
});

if (await requireRedis('metrics with Redis')) {
  describe('metrics with Redis', () => {
    it('time Redis commands by name and count the session cache', async () => {
      const server = await startTestServer({ REDIS_URL, REDIS_PREFIX: redisPrefix() });
      try {
        const dave = await registerUser(server.url, 'dave');
        for (let i = 0; i < 3; i++) assert.equal((await api(server.url, 'GET', '/api/v1/me', { token: dave.token })).status, 200);
        const samples = await scrape(server.url);
        const commands = new Set(samples.filter((s) => s.name === 'parley_redis_command_duration_seconds_count').map((s) => s.labels.command));
        // The session cache reads and writes; the rate limiter runs its script.
        for (const name of ['get', 'set']) assert.ok(commands.has(name), `no ${name} in ${[...commands].join(', ')}`);
        assert.ok(total(samples, 'parley_redis_command_duration_seconds_count', { outcome: 'ok' }) > 0);
        assert.ok(total(samples, 'parley_cache_requests_total', { cache: 'sessions', result: 'hit' }) >= 2);
      } finally {
        await server.stop();
      }
    });
  });
}
