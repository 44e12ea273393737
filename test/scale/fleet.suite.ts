/**
 * Parley as a fleet: three nodes of two workers each behind a real nginx (deploy/nginx.conf),
 * PostgreSQL for the store, a private Redis (rate limits, presence, and the bus) or NATS (the
 * bus). Clients of the SDK spread over the nodes exchange messages in shared rooms while nodes,
 * workers, the bus and Redis fail; every acknowledged message must reach every subscriber,
 * each room's stream gapless, ordered and without duplicates.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { Redis } from 'ioredis';
import { ParleyClient } from '../../client/index.js';
import type { StreamEvent } from '../../src/protocol/wire.js';
import { Fleet, NGINX } from '../support/fleet.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { NATS_SERVER, REDIS_SERVER, requireBinary, type ServerHandle, startNats, startRedis } from '../support/services.js';
import { api } from '../support/server.js';

const ROOMS = 3;
const USERS = 9;

interface Member {
  username: string;
  token: string;
  client: ParleyClient;
  /** Seqs delivered per room, in delivery order, from the first subscription on. */
  seen: Map<string, number[]>;
  /** Each room's lastSeq when the first subscription went live. */
  start: Map<string, number>;
  /** Times the connection dropped and the client set out to reconnect. */
  reconnects: number;
}

/** Sends from every member at a steady pace until stopped; records every acknowledged seq. */
class Traffic {
  readonly acked = new Map<string, Set<number>>();
  readonly failures: unknown[] = [];
  readonly #pending = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #n = 0;

  constructor(readonly members: Member[], readonly rooms: string[]) {
    for (const r of rooms) this.acked.set(r, new Set());
  }

  start(intervalMs: number): void {
    this.#timer = setInterval(() => {
      for (const m of this.members) {
        const roomId = this.rooms[this.#n++ % this.rooms.length] as string;
        const p = m.client
          .send(roomId, `${m.username} #${this.#n}`)
          .then((msg) => {
            this.acked.get(roomId)?.add(msg.seq);
          })
          .catch((error: unknown) => {
            this.failures.push(error);
          })
          .finally(() => this.#pending.delete(p));
        this.#pending.add(p);
      }
    }, intervalMs);
  }

  /** Stops sending and waits for every send in flight to be acknowledged (or fail). */
  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    const deadline = Date.now() + 60_000;
    while (this.#pending.size > 0 && Date.now() < deadline) await Promise.race([...this.#pending, new Promise((r) => setTimeout(r, 500))]);
    assert.equal(this.#pending.size, 0, 'sends still unacknowledged after 60 s');
  }

  get total(): number {
    return [...this.acked.values()].reduce((n, s) => n + s.size, 0);
  }
}

async function settle(members: Member[], traffic: Traffic, rooms: string[], base: string): Promise<void> {
  // The final head of each room, from the store through any node.
  const token = members[0]?.token as string;
  const heads = new Map<string, number>();
  for (const roomId of rooms) {
    const res = await api(base, 'GET', `/api/v1/rooms/${roomId}`, { token });
    assert.equal(res.status, 200);
    heads.set(roomId, res.body.room.lastSeq as number);
  }
  const deadline = Date.now() + 30_000;
  const complete = (m: Member) => rooms.every((r) => (m.seen.get(r)?.at(-1) ?? m.start.get(r)) === heads.get(r));
  while (!members.every(complete) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));

  for (const m of members) {
    for (const roomId of rooms) {
      const seen = m.seen.get(roomId) ?? [];
      const start = m.start.get(roomId) as number;
      const head = heads.get(roomId) as number;
      const expected = Array.from({ length: head - start }, (_, i) => start + 1 + i);
      // Gapless, ordered, no duplicates: exactly start+1 … head, in order.
      assert.deepEqual(seen, expected, `${m.username} in room ${roomId}: delivered stream is not ${start + 1}..${head}`);
      for (const seq of traffic.acked.get(roomId) ?? []) assert.ok(seq > start && seq <= head, `acked seq ${seq} outside the stream`);
    }
  }
}

async function join(fleetUrl: string, rooms: string[]): Promise<Member[]> {
  const members: Member[] = [];
  for (let i = 0; i < USERS; i++) {
    const username = `f${i}_${Math.random().toString(36).slice(2, 8)}`;
    const reg = await api(fleetUrl, 'POST', '/api/v1/auth/register', { body: { username, password: 'correct horse battery' } });
    assert.equal(reg.status, 201, JSON.stringify(reg.body));
    const token = reg.body.token as string;
    for (const roomId of rooms) {
      const res = await api(fleetUrl, 'POST', `/api/v1/rooms/${roomId}/join`, { token });
      assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
    }
    const client = new ParleyClient({ baseUrl: fleetUrl, token, WebSocket: WebSocket as never, backoff: { initialMs: 100, maxMs: 1_000 }, pingIntervalMs: 2_000, pongTimeoutMs: 2_000 });
    const m: Member = { username, token, client, seen: new Map(), start: new Map(), reconnects: 0 };
    client.on('state', (change) => {
      if (change.state === 'reconnecting') m.reconnects++;
    });
    client.on('event', (e: StreamEvent) => {
      let list = m.seen.get(e.roomId);
      if (list === undefined) {
        list = [];
        m.seen.set(e.roomId, list);
      }
      list.push(e.seq);
    });
    await client.connect();
    for (const roomId of rooms) {
      const sub = await client.subscribe(roomId);
      m.start.set(roomId, sub.lastSeq);
    }
    members.push(m);
  }
  return members;
}

/** The fleet suite with the bus over Redis or NATS; each runs from its own test file. */
export async function fleetSuite(busName: 'redis' | 'nats'): Promise<void> {
  const ready =
    (await requirePostgres('fleet')) &&
    requireBinary(REDIS_SERVER, 'redis-server', 'fleet') &&
    requireBinary(NATS_SERVER, 'nats-server', 'fleet') &&
    requireBinary(NGINX, 'nginx', 'fleet');
  if (!ready) return;
  describe(`fleet: 3 nodes × 2 workers behind nginx, PostgreSQL, bus over ${busName}`, { concurrency: false }, () => {
    let db: TestDatabase;
    let redis: ServerHandle;
    let nats: ServerHandle | null = null;
    let fleet: Fleet;
    const rooms: string[] = [];
    let members: Member[] = [];
    let owner = '';

    before(async () => {
      db = await createTestDatabase();
      redis = await startRedis();
      if (busName === 'nats') nats = await startNats();
      fleet = await Fleet.start({
        nodes: 3,
        workersPerNode: 2,
        env: {
          DATABASE_URL: db.url,
          REDIS_URL: redis.url,
          NATS_URL: nats?.url ?? '',
          BUS: busName,
          LOG_LEVEL: 'warn',
          SCRYPT_COST: '10',
          SEND_RATE_PER_SEC: '50',
          SEND_BURST: '100',
          AUTH_RATE_PER_MIN: '30',
          BUS_PROBE_INTERVAL_MS: '500',
          ORDERING_GAP_TIMEOUT_MS: '100',
          SHUTDOWN_TIMEOUT_MS: '8000',
          PRESENCE_TTL_MS: '3000',
          TRUST_PROXY: 'true',
        },
      });
      const reg = await api(fleet.url, 'POST', '/api/v1/auth/register', { body: { username: `owner_${busName}`, password: 'correct horse battery' } });
      owner = reg.body.token as string;
      for (let i = 0; i < ROOMS; i++) {
        const res = await api(fleet.url, 'POST', '/api/v1/rooms', { token: owner, body: { name: `fleet ${i}`, visibility: 'public' } });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        rooms.push(res.body.room.id as string);
      }
      members = await join(fleet.url, rooms);
    });

    after(async () => {
      await Promise.all(members.map((m) => m.client.close()));
      await fleet?.stop();
      await nats?.stop();
      await redis?.stop();
      await db?.drop();
    });

    it('steady traffic: every subscriber sees every room gapless, ordered, without duplicates', async () => {
      const traffic = new Traffic(members, rooms);
      traffic.start(150);
      await new Promise((r) => setTimeout(r, 3_000));
      await traffic.stop();
      assert.deepEqual(traffic.failures, []);
      assert.ok(traffic.total > 100, `only ${traffic.total} messages acknowledged`);
      await settle(members, traffic, rooms, fleet.url);
    });

    it('faults under traffic lose no acknowledged message, and clients recover alone', async (t) => {
      const reconnectsBefore = members.reduce((n, m) => n + m.reconnects, 0);
      const traffic = new Traffic(members, rooms);
      traffic.start(150);
      const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const [n0, n1, n2] = fleet.nodes as [typeof fleet.nodes[0], typeof fleet.nodes[0], typeof fleet.nodes[0]];

      // One worker of node 0 dies; its primary restarts it.
      const victim = n0.workerPids()[0] as number;
      process.kill(victim, 'SIGKILL');
      await pause(2_000);
      assert.equal(n0.workerPids().length, 2, 'the killed worker was not replaced');

      // Every pub/sub connection of Redis is killed; subscribers reconnect and resync.
      const admin = new Redis(redis.url);
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      admin.disconnect();
      await pause(1_500);

      // Redis restarts (state lost: it keeps nothing on disk).
      await redis.restart({ downMs: 500 });
      await pause(2_000);

      if (nats !== null) {
        await nats.restart({ hard: true, downMs: 300 });
        await pause(2_000);
      }

      // A rolling reload of node 1.
      const before1 = n1.workerPids().sort();
      n1.signal('SIGHUP');
      // Two workers replaced one after the other, each booting while the fleet is under load.
      const reloadDeadline = Date.now() + 90_000;
      while (Date.now() < reloadDeadline && n1.workerPids().some((p) => before1.includes(p))) await pause(200);
      assert.equal(n1.workerPids().filter((p) => before1.includes(p)).length, 0, `node 1 did not replace its workers:\n${n1.output.slice(-4000)}`);

      // Node 2 shuts down gracefully (its clients move to the others through nginx), then returns.
      assert.equal(await n2.stop('SIGTERM'), 0, `node 2 did not stop cleanly:\n${n2.output.slice(-3000)}`);
      await pause(1_500);
      await n2.start();

      // Node 0 is killed outright, then returns.
      await n0.stop('SIGKILL');
      await pause(1_500);
      await n0.start();
      await pause(2_000);

      await traffic.stop();
      assert.deepEqual(traffic.failures, [], 'a send failed');
      await settle(members, traffic, rooms, fleet.url);
      const reconnects = members.reduce((n, m) => n + m.reconnects, 0) - reconnectsBefore;
      assert.ok(reconnects >= USERS / 3, `only ${reconnects} reconnections: the faults did not reach the clients`);
      t.diagnostic(`${traffic.total} messages acknowledged during the faults; ${reconnects} client reconnections`);
    });

    it('logout on one node is refused on another at the next request', async () => {
      const [a, b] = fleet.nodes as [typeof fleet.nodes[0], typeof fleet.nodes[0]];
      const reg = await api(a.url, 'POST', '/api/v1/auth/register', { body: { username: `lo_${busName}_${Date.now() % 100000}`, password: 'correct horse battery' } });
      const token = reg.body.token as string;
      assert.equal((await api(b.url, 'GET', '/api/v1/me', { token })).status, 200);
      assert.equal((await api(a.url, 'POST', '/api/v1/auth/logout', { token })).status, 204);
      assert.equal((await api(b.url, 'GET', '/api/v1/me', { token })).status, 401);
    });

    it('rate limits hold across nodes', async () => {
      // Login attempts from one client address, spread evenly over the three nodes: the limit
      // (AUTH_RATE_PER_MIN 30, as a burst of 30 refilled at 0.5/s) is for the address as a
      // whole. Per-node counters would let all 90 through.
      const headers = { 'x-forwarded-for': `10.${busName === 'redis' ? 1 : 2}.3.4` };
      const statuses = await Promise.all(
        Array.from({ length: 90 }, (_, i) =>
          api((fleet.nodes[i % 3] as { url: string }).url, 'POST', '/api/v1/auth/login', { headers, body: { username: 'nobody-at-all', password: 'wrong password' } }).then((r) => r.status),
        ),
      );
      assert.deepEqual(statuses.filter((s) => s !== 401 && s !== 429), []);
      const allowed = statuses.filter((s) => s === 401).length;
      assert.ok(allowed >= 30 && allowed <= 40, `${allowed} of 90 attempts got through`);
    });
  });
}
