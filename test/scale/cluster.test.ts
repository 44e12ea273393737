/**
 * `parley start --workers 2` with nothing configured: the workers share the SQLite file and the
 * primary carries events between them. Clients spread over both workers see every room gapless;
 * a killed worker is replaced; SIGHUP replaces every worker without a failed send.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { ParleyClient } from '../../client/index.js';
import { until } from '../support/files.js';
import { FleetNode } from '../support/fleet.js';
import { scrape, total } from '../support/metrics.js';
import { api } from '../support/server.js';
import { freePort } from '../support/services.js';

describe('one machine, two workers, zero setup', { concurrency: false }, () => {
  let dir: string;
  let node: FleetNode;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'parley-cluster-'));
    node = new FleetNode(await freePort(), { DATA_DIR: dir, LOG_LEVEL: 'info', SCRYPT_COST: '10', SEND_RATE_PER_SEC: '1000', SEND_BURST: '1000', SHUTDOWN_TIMEOUT_MS: '8000' }, 2);
    await node.start();
    // Both workers ready, as the primary says: one that is killed while still starting is a
    // failed start, and the node stops (the port answering means only that one worker listens).
    await until('the primary says the cluster is ready', () => node.output.includes('"msg":"cluster ready"'), 30_000);
  });
  after(async () => {
    await node?.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('clients on different workers share rooms; a worker killed or reloaded loses nothing', async () => {
    const owner = await api(node.url, 'POST', '/api/v1/auth/register', { body: { username: 'cluster_owner', password: 'correct horse battery' } });
    const room = await api(node.url, 'POST', '/api/v1/rooms', { token: owner.body.token, body: { name: 'shared', visibility: 'public' } });
    const roomId = room.body.room.id as string;

    const clients: Array<{ client: ParleyClient; seen: number[]; start: number }> = [];
    for (let i = 0; i < 6; i++) {
      const reg = await api(node.url, 'POST', '/api/v1/auth/register', { body: { username: `cluster_${i}`, password: 'correct horse battery' } });
      await api(node.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: reg.body.token });
      const client = new ParleyClient({ baseUrl: node.url, token: reg.body.token, WebSocket: WebSocket as never, backoff: { initialMs: 100, maxMs: 1_000 } });
      const entry = { client, seen: [] as number[], start: 0 };
      client.on('event', (e) => entry.seen.push(e.seq));
      await client.connect();
      entry.start = (await client.subscribe(roomId)).lastSeq;
      clients.push(entry);
    }

    const acked: number[] = [];
    const send = async (round: number) => {
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`round ${round} not acknowledged within 30 s; client states: ${clients.map((c) => c.client.state).join(', ')}\n${node.output.slice(-3000)}`)), 30_000);
      });
      try {
        const results = await Promise.race([Promise.all(clients.map((c, i) => c.client.send(roomId, `r${round} c${i}`))), stuck]);
        for (const m of results) acked.push(m.seq);
      } finally {
        clearTimeout(timer);
      }
    };
    await send(0);

    const victim = node.workerPids()[0] as number;
    process.kill(victim, 'SIGKILL');
    await send(1);
    // One snapshot per look: the list changes under our feet while the primary reaps and forks.
    const deadline = Date.now() + 15_000;
    let pids = node.workerPids();
    while (Date.now() < deadline && (pids.length !== 2 || pids.includes(victim))) {
      await new Promise((r) => setTimeout(r, 100));
      pids = node.workerPids();
    }
    assert.deepEqual({ workers: pids.length, victimAlive: pids.includes(victim) }, { workers: 2, victimAlive: false }, `the killed worker was not replaced:\n${node.output.slice(-2000)}`);

    const before = node.workerPids();
    node.signal('SIGHUP');
    for (let round = 2; round < 12; round++) {
      await send(round);
      await new Promise((r) => setTimeout(r, 200));
    }
    const reloadDeadline = Date.now() + 20_000;
    while (Date.now() < reloadDeadline && node.workerPids().some((p) => before.includes(p))) await new Promise((r) => setTimeout(r, 100));
    assert.equal(node.workerPids().filter((p) => before.includes(p)).length, 0, 'SIGHUP did not replace the workers');
    await send(12);

    const head = Math.max(...acked);
    const settle = Date.now() + 15_000;
    while (Date.now() < settle && clients.some((c) => c.seen.at(-1) !== head)) await new Promise((r) => setTimeout(r, 100));
    for (const c of clients) {
      assert.deepEqual(c.seen, Array.from({ length: head - c.start }, (_, i) => c.start + 1 + i));
      await c.client.close();
    }
    assert.equal(acked.length, 13 * 6);
  });

  it('/metrics on any worker answers for the node: the workers summed, and the primary restarts', async () => {
    const reg = await api(node.url, 'POST', '/api/v1/auth/register', { body: { username: 'cluster_metrics', password: 'correct horse battery' } });
    const token = reg.body.token as string;
    const room = await api(node.url, 'POST', '/api/v1/rooms', { token, body: { name: 'metrics', visibility: 'public' } });
    const roomId = room.body.room.id as string;
    const before = await scrape(node.url);
    // Round robin spreads the connections over both workers.
    const CLIENTS = 6;
    const SENDS = 5;
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => new ParleyClient({ baseUrl: node.url, token, WebSocket: WebSocket as never })));
    for (const c of clients) await c.connect();
    for (const c of clients) for (let i = 0; i < SENDS; i++) await c.send(roomId, `m${i}`);
    // Several scrapes, landing on either worker, all see the whole node.
    for (let i = 0; i < 4; i++) {
      const samples = await scrape(node.url);
      assert.equal(total(samples, 'parley_ws_connections'), CLIENTS);
      assert.equal(total(samples, 'parley_messages_sent_total') - total(before, 'parley_messages_sent_total'), CLIENTS * SENDS);
      assert.equal(total(samples, 'parley_metrics_workers_missing'), 0);
      // The worker killed in the test before was restarted once; the reload retired workers on purpose.
      assert.equal(total(samples, 'parley_worker_restarts_total'), 1);
      assert.ok(total(samples, 'process_resident_memory_bytes') > 2 * 20 * 2 ** 20, 'the RSS of both workers');
    }
    for (const c of clients) await c.close();
  });
});
