/**
 * The event pipeline on a node, with a JetStream server of the test's own: every committed
 * stream event reaches the log once (by id, seqs gapless), operational events too (logins,
 * connections), search is indexed by the log's `search` group (edits and deletes included), and
 * a restart of JetStream under traffic is noticed by nothing else: every send is acknowledged
 * while it is down, and the log and the index catch up after it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JetStreamLog } from '../../src/adapters/nats/event-log.js';
import type { LogEntry } from '../../src/ports.js';
import { LOG_SUBJECT_PREFIX } from '../../src/pipeline/open.js';
import { decodeRecord, type OpsRecord, type StreamRecord } from '../../src/pipeline/records.js';
import { api, createRoom, registerUser, searchFresh, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { NATS_SERVER, requireBinary, type ServerHandle, startNats } from '../support/services.js';
import { WsTestClient } from '../support/ws-client.js';

type Json = Record<string, unknown>;

/** Reads the whole log as a group of its own, until `until` holds (or 30 s pass). */
async function readLog(url: string, group: string, until: (records: Array<StreamRecord | OpsRecord>) => boolean): Promise<Array<StreamRecord | OpsRecord>> {
  const log = await JetStreamLog.open({ url, stream: 'PARLEY_EVENTS', prefix: LOG_SUBJECT_PREFIX, maxAgeMs: 3_600_000, maxBytes: 1 << 30, duplicateWindowMs: 120_000, timeoutMs: 2_000, onError: () => undefined });
  const records: Array<StreamRecord | OpsRecord> = [];
  const ids: string[] = [];
  try {
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const stop = log.consume(group, { batch: 256 }, async (batch: LogEntry[]) => {
      for (const entry of batch) {
        const record = decodeRecord(entry);
        assert.ok(record !== undefined, `a record this version reads: ${entry.data.slice(0, 80)}`);
        records.push(record);
        ids.push(entry.id);
      }
      if (until(records)) done();
    });
    const timer = setTimeout(done, 30_000);
    await finished;
    clearTimeout(timer);
    await stop();
  } finally {
    await log.close();
  }
  assert.equal(new Set(ids).size, ids.length, 'each record once in the log');
  return records;
}

const roomEvents = (records: Array<StreamRecord | OpsRecord>, roomId: string) => records.flatMap((r) => (r.type === 'stream' && r.event.roomId === roomId ? [r.event] : []));

if (requireBinary(NATS_SERVER, 'nats-server', 'Event pipeline')) {
  describe('event pipeline on JetStream', () => {
    let nats: ServerHandle;
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let roomId: string;

    before(async () => {
      nats = await startNats({ jetStream: true });
      // JetStream may still be starting when the port opens: the node's start is retried.
      for (let attempt = 0; ; attempt++) {
        try {
          server = await startTestServer({ EVENT_LOG: 'jetstream', EVENT_LOG_URL: nats.url, EVENT_LOG_TIMEOUT_MS: 1_000, SEND_RATE_PER_SEC: 1_000, SEND_BURST: 1_000 });
          break;
        } catch (error) {
          if (attempt >= 20) throw error;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      alice = await registerUser(server.url, 'alice');
      bob = await registerUser(server.url, 'bob');
      roomId = await createRoom(server.url, alice, 'public');
      assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token })).status, 200);
    });

    after(async () => {
      await server?.stop();
      await nats?.stop();
    });

    it('every stream event once, gapless, with logins and connections; search indexed from the log', async () => {
      const login = await api<Json>(server.url, 'POST', '/api/v1/auth/login', { body: { username: alice.username, password: 'correct horse battery' } });
      assert.equal(login.status, 200);
      assert.equal((await api(server.url, 'POST', '/api/v1/auth/login', { body: { username: alice.username, password: 'not the password' } })).status, 401);
      const ws = await WsTestClient.connect(server.wsUrl, { token: bob.token });
      const sent: number[] = [];
      for (let i = 0; i < 20; i++) {
        const reply = await ws.request({ type: 'send', roomId, body: `albatross number ${i}` });
        assert.equal(reply.ok, true, JSON.stringify(reply));
        sent.push(((reply.message ?? (reply as Json).result) as Json | undefined)?.seq as number);
      }
      const first = await api<{ messages: Array<{ seq: number; body: string }> }>(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?limit=100`, { token: bob.token });
      const bySeq = new Map(first.body.messages.map((m) => [m.body, m.seq]));
      const zero = bySeq.get('albatross number 0') as number;
      const one = bySeq.get('albatross number 1') as number;
      assert.equal((await api(server.url, 'PATCH', `/api/v1/rooms/${roomId}/messages/${zero}`, { token: bob.token, body: { body: 'cormorant instead' } })).status, 200);
      assert.equal((await api(server.url, 'DELETE', `/api/v1/rooms/${roomId}/messages/${one}`, { token: bob.token })).status, 204);
      ws.close();

      const found = await searchFresh<{ hits: Array<{ message: { seq: number } }>; index: { pending: number } }>(server.url, `/api/v1/search?q=albatross&roomId=${roomId}&limit=100`, alice.token);
      assert.equal(found.body.index.pending, 0);
      assert.deepEqual(found.body.hits.map((h) => h.message.seq).sort((a, b) => a - b), [...bySeq.values()].filter((s) => s !== zero && s !== one).sort((a, b) => a - b));
      assert.deepEqual((await searchFresh<{ hits: Array<{ message: { seq: number } }> }>(server.url, '/api/v1/search?q=cormorant', alice.token)).body.hits.map((h) => h.message.seq), [zero]);

      const head = Math.max(...bySeq.values()) + 2; // the edit and the delete
      const records = await readLog(nats.url, 'check-1', (all) => roomEvents(all, roomId).length >= head && all.some((r) => r.type === 'ops' && r.name === 'connection.closed'));
      assert.deepEqual(roomEvents(records, roomId).map((e) => e.seq), Array.from({ length: head }, (_, i) => i + 1), 'every event of the room, in order, gapless');
      const ops = records.flatMap((r) => (r.type === 'ops' ? [r] : []));
      const names = new Set(ops.map((o) => o.name));
      for (const name of ['user.registered', 'login.succeeded', 'login.failed', 'connection.opened', 'connection.closed']) assert.ok(names.has(name as OpsRecord['name']), `ops ${name}`);
      assert.ok(ops.every((o) => o.node === server.parley.nodeId && typeof o.at === 'number'));
      assert.ok(!JSON.stringify(ops).includes('not the password'));
    });

    it('JetStream restarted under traffic: every send is acknowledged meanwhile; the log and the index catch up', async () => {
      const ws = await WsTestClient.connect(server.wsUrl, { token: bob.token });
      let n = 0;
      let running = true;
      const failures: string[] = [];
      const sender = (async () => {
        while (running) {
          const reply = await ws.request({ type: 'send', roomId, body: `petrel during the outage ${n++}` }, 15_000);
          if (reply.ok !== true) failures.push(JSON.stringify(reply));
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      await new Promise((r) => setTimeout(r, 300));
      await nats.halt({ hard: true });
      await new Promise((r) => setTimeout(r, 2_000));
      // Nothing else notices: the node is ready, history and search answer.
      assert.equal((await api(server.url, 'GET', '/readyz')).status, 200);
      // The log's search group is stopped with it: the search catches its room up from the store.
      const during = await api<{ hits: unknown[] }>(server.url, 'GET', `/api/v1/search?q=petrel&roomId=${roomId}`, { token: alice.token });
      assert.equal(during.status, 200);
      assert.ok(during.body.hits.length > 0, 'messages sent during the outage are found');
      await nats.start();
      await new Promise((r) => setTimeout(r, 500));
      running = false;
      await sender;
      ws.close();
      assert.deepEqual(failures, [], 'every send acknowledged');
      assert.ok(n > 20);

      // The newest message is the last one sent: its seq is the room's head.
      const head = (await api<{ messages: Array<{ seq: number }> }>(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?limit=1`, { token: bob.token })).body.messages[0]?.seq ?? 0;
      const records = await readLog(nats.url, 'check-2', (all) => roomEvents(all, roomId).length >= head);
      assert.deepEqual(roomEvents(records, roomId).map((e) => e.seq).sort((a, b) => a - b), Array.from({ length: head }, (_, i) => i + 1), 'every event of the room in the log, once');
      const found = await searchFresh<{ hits: unknown[]; index: { pending: number } }>(server.url, `/api/v1/search?q=petrel&roomId=${roomId}&limit=100`, alice.token);
      assert.equal(found.body.index.pending, 0, 'the index caught up');
      assert.equal(found.body.hits.length, Math.min(n, 100));
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /parley_event_log_appended_total\{family="stream"\} \d+/);
      assert.match(metrics, /parley_search_index_delay_seconds_count \d+/);
    });
  });
}
