/**
 * Growth: how the cost of five operations grows with the size of what they touch, at three
 * sizes spanning 100× (issue 10), on SQLite and PostgreSQL. Each size gets a fresh database,
 * seeded in bulk straight through the schema before the server starts (bench/growth-seed.ts),
 * then a server of its own process measured from outside over its public API:
 *
 *   send      send → ack over a WebSocket (with a clientMsgId) and the store's append time,
 *             in a room holding 2,000 / 20,000 / 200,000 messages
 *   rooms     GET /rooms for a user 2,000 / 20,000 / 200,000 messages behind in one room
 *   subscribe subscribe right after another user joined, rooms of 10 / 100 / 1,000 / 10,000 members
 *   storm     C = 100 / 1,000 / 5,000 clients of one room drop and resume (since, SDK backoff):
 *             server CPU per reconnect, presence frames per client, time until 99% are back
 *   search    GET /rooms/public?q= (a few matches, none) with 500 / 5,000 / 50,000 public rooms
 *
 *   npm run bench -- growth [--only send,rooms,subscribe,storm,search] [--store sqlite,postgres]
 *                           [--presence full|batch|none] [--scale 1] [--samples 100] [--sends 300]
 *                           [--before]
 *   npm run bench -- growth render     (docs/benchmarks.md and docs/bench/growth.svg from the JSON)
 *
 * Results: bench/results/growth-<store>.json (with --before: growth-before-<store>.json, the
 * figures of the code before the fixes of issue 10). A run of some operations replaces those
 * operations in the file and keeps the others. --scale shrinks every size (0.01 for a smoke run).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { curvesOf, type GrowthResult, OPS, type Op, renderGrowth } from './growth-render.js';
import { type RoomSpec, type SeedDb, type SeedUser, seedRooms, seedUsers } from './growth-seed.js';
import { call, cpuMs, type GrowthServer, percentile, round, type StoreKind, storeTiming, WsClient, withServer } from './growth-server.js';
import { Agent } from './agent-handle.js';
import type { AgentConnection } from './messages.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const { positionals, values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== 'growth'),
  allowPositionals: true,
  options: {
    only: { type: 'string', default: OPS.join(',') },
    store: { type: 'string', default: 'sqlite,postgres' },
    presence: { type: 'string', default: 'batch' },
    scale: { type: 'string', default: '1' },
    samples: { type: 'string', default: '100' },
    sends: { type: 'string', default: '300' },
    before: { type: 'boolean', default: false },
  },
});

if (positionals[0] === 'render') {
  renderGrowth();
  process.exit(0);
}

const only = (values.only as string).split(',').filter((o) => o !== '') as Op[];
for (const op of only) if (!OPS.includes(op)) throw new Error(`unknown operation "${op}": ${OPS.join(', ')}`);
const stores = (values.store as string).split(',') as StoreKind[];
for (const s of stores) if (s !== 'sqlite' && s !== 'postgres') throw new Error(`unknown store "${s}": sqlite or postgres`);
const presence = values.presence as 'full' | 'batch' | 'none';
if (!['full', 'batch', 'none'].includes(presence)) throw new Error('--presence is full, batch or none');
const scale = Number(values.scale);
const samples = Number(values.samples);
const sendCount = Number(values.sends);
const sized = (sizes: number[], least: number) => [...new Set(sizes.map((s) => Math.max(least, Math.round(s * scale))))];

const SIZES: Record<Op, number[]> = {
  send: sized([2_000, 20_000, 200_000], 20),
  rooms: sized([2_000, 20_000, 200_000], 20),
  subscribe: sized([10, 100, 1_000, 10_000], 5),
  storm: sized([100, 1_000, 5_000], 10),
  search: sized([500, 5_000, 50_000], 20),
};
/** Users in every database besides those an operation needs: a realistic users table. */
const BACKGROUND_USERS = Math.max(200, Math.round(20_000 * Math.min(1, scale * 10)));

const summary = (ms: number[]) => ({ p50: round(percentile(ms, 50)), p95: round(percentile(ms, 95)), n: ms.length });

// send and rooms: one room holding N messages

interface HistorySeed {
  roomId: string;
  lastSeq: number;
  author: SeedUser;
  reader: SeedUser;
}

async function seedHistory(db: SeedDb, messages: number): Promise<HistorySeed> {
  const users = await seedUsers(db, BACKGROUND_USERS, 12);
  const authors = users.slice(0, 8);
  const reader = users[8] as SeedUser;
  const others = users.slice(12, 60);
  // The big room (8 authors, the reader behind everything), a few small rooms of the reader's,
  // and other rooms with their own history, so the messages table is not one room only.
  const [big] = await seedRooms(db, [{ name: 'history', visibility: 'public', owner: authors[0] as SeedUser, members: [...authors.slice(1), reader, ...others], authors, messages, behind: [reader] }]);
  const small: RoomSpec[] = Array.from({ length: 5 }, (_, i) => ({ name: `reader room ${i}`, visibility: 'private', owner: reader, members: others.slice(i * 4, i * 4 + 4), authors: [reader, ...others.slice(i * 4, i * 4 + 4)], messages: 50 }));
  const background: RoomSpec[] = Array.from({ length: 100 }, (_, i) => {
    const members = users.slice(100 + i * 10, 110 + i * 10);
    return { name: `room ${i}`, visibility: i % 2 === 0 ? 'public' : 'private', owner: members[0] as SeedUser, members: members.slice(1), authors: members, messages: Math.max(1, Math.round(messages / 100)) };
  });
  await seedRooms(db, [...small, ...background]);
  return { roomId: big?.id as string, lastSeq: big?.lastSeq as number, author: authors[1] as SeedUser, reader };
}

async function measureRooms(server: GrowthServer, seed: HistorySeed, size: number): Promise<Record<string, unknown>> {
  const token = seed.reader.token as string;
  const ms: number[] = [];
  let unread: unknown = null;
  for (let i = 0; i < samples + 10; i++) {
    const answer = await call(server.url, 'GET', '/rooms', token);
    if (answer.status !== 200) throw new Error(`GET /rooms: ${answer.status} ${JSON.stringify(answer.body)}`);
    if (i >= 10) ms.push(answer.ms);
    unread = ((answer.body?.rooms ?? []) as Array<{ id: string; unread: unknown }>).find((r) => r.id === seed.roomId)?.unread ?? null;
  }
  return { size, ...summary(ms), unreadShown: unread };
}

async function measureSend(server: GrowthServer, seed: HistorySeed, size: number): Promise<Record<string, unknown>> {
  const ws = await WsClient.open(server.url, seed.author.token as string);
  try {
    const send = async (i: number) => {
      const { reply, ms } = await ws.request({ type: 'send', roomId: seed.roomId, body: `growth send ${i} ${Date.now()}`, clientMsgId: `growth-${process.pid}-${size}-${i}` });
      if (reply.ok !== true) throw new Error(`send: ${JSON.stringify(reply)}`);
      return ms;
    };
    for (let i = 0; i < 20; i++) await send(i);
    const before = await storeTiming(server.url, 'append');
    const ms: number[] = [];
    for (let i = 20; i < 20 + sendCount; i++) ms.push(await send(i));
    const after = await storeTiming(server.url, 'append');
    const appends = after.count - before.count;
    return { size, ...summary(ms), appendMeanMs: appends === 0 ? null : round(((after.sumSeconds - before.sumSeconds) * 1000) / appends, 3), appendCalls: appends };
  } finally {
    ws.close();
  }
}

// subscribe after a join: rooms of M members

async function measureSubscribe(store: StoreKind, members: number): Promise<Record<string, unknown>> {
  const joins = Math.min(40, Math.max(10, samples / 2));
  return withServer(
    store,
    async (db) => {
      const users = await seedUsers(db, Math.max(BACKGROUND_USERS, members + joins + 10), joins + 2);
      const subscriber = users[0] as SeedUser;
      const joiners = users.slice(1, 1 + joins);
      const rest = users.slice(joins + 2, joins + 1 + members);
      const [room] = await seedRooms(db, [{ name: 'crowd', visibility: 'public', owner: subscriber, members: rest, authors: [subscriber, ...rest.slice(0, 5)], messages: 200 }]);
      return { roomId: room?.id as string, subscriber, joiners };
    },
    async (server, seed) => {
      const ws = await WsClient.open(server.url, seed.subscriber.token as string);
      try {
        const subscribe = async () => {
          const { reply, ms } = await ws.request({ type: 'subscribe', roomId: seed.roomId });
          if (reply.ok !== true) throw new Error(`subscribe: ${JSON.stringify(reply)}`);
          await ws.request({ type: 'unsubscribe', roomId: seed.roomId });
          return ms;
        };
        const steady: number[] = [];
        for (let i = 0; i < 5 + joins; i++) {
          const ms = await subscribe();
          if (i >= 5) steady.push(ms);
        }
        const afterJoin: number[] = [];
        for (const joiner of seed.joiners) {
          const joined = await call(server.url, 'POST', `/rooms/${seed.roomId}/join`, joiner.token);
          if (joined.status !== 200) throw new Error(`join: ${joined.status} ${JSON.stringify(joined.body)}`);
          afterJoin.push(await subscribe());
        }
        return { size: members, ...summary(afterJoin), steady: summary(steady) };
      } finally {
        ws.close();
      }
    },
  );
}

// reconnect storm: C clients of one room drop and resume

async function presenceCounts(agents: Agent[]): Promise<{ presence: number; presenceBatch: number; frames: number; serverCloses: number; closeCodes: Record<string, number> }> {
  const all = await Promise.all(
    agents.map((a) => {
      const answer = a.next('counts', 30_000);
      a.send({ type: 'counts' });
      return answer;
    }),
  );
  const sum = (k: 'presence' | 'presenceBatch' | 'frames' | 'serverCloses') => all.reduce((n, c) => n + c[k], 0);
  const closeCodes: Record<string, number> = {};
  for (const c of all) for (const [code, k] of Object.entries(c.closeCodes)) closeCodes[code] = (closeCodes[code] ?? 0) + k;
  return { presence: sum('presence'), presenceBatch: sum('presenceBatch'), frames: sum('frames'), serverCloses: sum('serverCloses'), closeCodes };
}

/** Waits until no presence frame has arrived for `quietMs` (at most `maxMs`); the counts then. */
async function quiesce(agents: Agent[], quietMs: number, maxMs: number) {
  const started = performance.now();
  let last = await presenceCounts(agents);
  let lastChange = performance.now();
  while (performance.now() - lastChange < quietMs && performance.now() - started < maxMs) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await presenceCounts(agents);
    if (now.presence + now.presenceBatch !== last.presence + last.presenceBatch) lastChange = performance.now();
    last = now;
  }
  return { ...last, quietAfterMs: lastChange - started };
}

/** Whether the server takes the subscribe frame's `presence` field (servers before issue 10 refuse unknown fields). */
async function presenceFieldAccepted(server: GrowthServer, token: string, roomId: string): Promise<boolean> {
  const ws = await WsClient.open(server.url, token);
  try {
    const { reply } = await ws.request({ type: 'subscribe', roomId, presence });
    return reply.ok === true;
  } finally {
    ws.close();
  }
}

async function measureStorm(store: StoreKind, clients: number): Promise<Record<string, unknown>> {
  return withServer(
    store,
    async (db) => {
      const users = await seedUsers(db, Math.max(BACKGROUND_USERS, clients + 10), clients);
      const members = users.slice(0, clients);
      const [room] = await seedRooms(db, [{ name: 'storm', visibility: 'public', owner: members[0] as SeedUser, members: members.slice(1), authors: members.slice(0, 10), messages: 500 }]);
      return { roomId: room?.id as string, members };
    },
    async (server, seed) => {
      const accepted = await presenceFieldAccepted(server, seed.members[0]?.token as string, seed.roomId);
      const agentCount = Math.max(2, Math.ceil(clients / 1_500));
      const agents = Array.from({ length: agentCount }, () => new Agent());
      try {
        const connections: AgentConnection[] = seed.members.map((u) => ({ token: u.token as string, rooms: [seed.roomId] }));
        const opening = performance.now();
        await Promise.all(
          agents.map(async (agent, a) => {
            agent.send({ type: 'open', target: 'parley', url: server.url, serverAddress: `127.0.0.${2 + a}`, connections: connections.filter((_, i) => i % agentCount === a), openConcurrency: 50, ...(accepted ? { presence } : {}) });
            const opened = await agent.next('opened', 600_000);
            if (opened.failed > 0) throw new Error(`agent ${a}: ${opened.failed} connections failed: ${opened.error}`);
          }),
        );
        const openSeconds = (performance.now() - opening) / 1000;
        const settled = await quiesce(agents, 3_000, 120_000);
        console.log(`  ${clients} connections open in ${openSeconds.toFixed(1)} s, presence quiet ${(settled.quietAfterMs / 1000).toFixed(1)} s later`);
        // The server's own idle CPU (timers, heartbeats) over a quiet spell, subtracted from the storm's.
        const idleFrom = cpuMs(server.pid);
        const idleStarted = performance.now();
        await new Promise((r) => setTimeout(r, 2_000));
        const idleRate = (cpuMs(server.pid) - idleFrom) / (performance.now() - idleStarted);
        const cpuBefore = cpuMs(server.pid);
        const dropped = performance.now();
        const backoffInitialMs = 500;
        const stormed = await Promise.all(
          agents.map((a) => {
            const answer = a.next('stormed', 600_000);
            a.send({ type: 'storm', backoffInitialMs });
            return answer;
          }),
        );
        const allBackMs = performance.now() - dropped;
        const after = await quiesce(agents, 3_000, 120_000);
        const cpuAfter = cpuMs(server.pid);
        const stormWindowMs = performance.now() - dropped;
        const stormCpuMs = Math.max(0, cpuAfter - cpuBefore - idleRate * stormWindowMs);
        const resumeMs = stormed.flatMap((s) => s.resumeMs);
        const failed = stormed.reduce((n, s) => n + s.failed, 0);
        // The 99th percentile over every client, a client that never came back counting as never.
        const ranked = [...resumeMs, ...Array.from({ length: failed }, () => Number.POSITIVE_INFINITY)];
        const presenceFrames = after.presence - settled.presence;
        const batchFrames = after.presenceBatch - settled.presenceBatch;
        return {
          size: clients,
          presenceMode: accepted ? presence : 'not accepted by the server (field omitted)',
          agents: agentCount,
          backoffInitialMs,
          openSeconds: round(openSeconds),
          resumed: resumeMs.length,
          failed,
          attempts: stormed.reduce((n, s) => n + s.attempts, 0),
          firstError: stormed.find((s) => s.error !== undefined)?.error ?? null,
          resumed99Seconds: round(percentile(ranked, 99) / 1000),
          allBackSeconds: round(allBackMs / 1000),
          cpuMsRaw: round(cpuAfter - cpuBefore),
          idleCpuMsPerSecond: round(idleRate * 1000),
          cpuMs: round(stormCpuMs),
          cpuMsPerReconnect: round(stormCpuMs / clients, 3),
          presenceFrames,
          presenceBatchFrames: batchFrames,
          presenceFramesPerClient: round((presenceFrames + batchFrames) / clients, 2),
          framesPerClient: round((after.frames - settled.frames) / clients, 2),
          // Connections the server closed (slow consumer 4009 and the like), while opening and during the storm: not reopened.
          serverCloses: after.serverCloses,
          closeCodes: after.closeCodes,
          presenceQuietAfterSeconds: round((after.quietAfterMs + allBackMs) / 1000),
        };
      } finally {
        for (const agent of agents) agent.send({ type: 'stop' });
      }
    },
  );
}

// public room search: servers with P public rooms

async function measureSearch(store: StoreKind, rooms: number): Promise<Record<string, unknown>> {
  return withServer(
    store,
    async (db) => {
      const users = await seedUsers(db, BACKGROUND_USERS, 1);
      const words = ['design', 'backend', 'music', 'games', 'travel', 'coffee', 'books', 'garden', 'running', 'photos', 'cinema', 'science', 'cooking', 'support', 'release', 'london', 'berlin', 'tokyo'];
      // Three rooms (of any size) hold the word searched for; nothing holds the other query.
      const matching = new Set([Math.floor(rooms / 7), Math.floor(rooms / 2), rooms - 3]);
      const specs: RoomSpec[] = Array.from({ length: rooms }, (_, i) => {
        const owner = users[(i * 7919) % users.length] as SeedUser;
        const name = `${words[i % words.length]} ${words[(i * 7) % words.length]}${matching.has(i) ? ' zephyr' : ''} ${i}`;
        return { name, visibility: 'public', owner, members: [], authors: [owner], messages: i % 10 === 0 ? 2 : 0 };
      });
      await seedRooms(db, specs);
      return { token: users[0]?.token as string };
    },
    async (server, seed) => {
      const ask = async (q: string) => {
        const ms: number[] = [];
        let found = 0;
        for (let i = 0; i < samples + 10; i++) {
          const answer = await call(server.url, 'GET', `/rooms/public?q=${q}&limit=50`, seed.token);
          if (answer.status !== 200) throw new Error(`GET /rooms/public: ${answer.status} ${JSON.stringify(answer.body)}`);
          if (i >= 10) ms.push(answer.ms);
          found = ((answer.body?.rooms ?? []) as unknown[]).length;
        }
        return { ...summary(ms), found };
      };
      return { size: rooms, match: await ask('zephyr'), none: await ask('qxjvw') };
    },
  );
}

// Running and saving

function resultFile(store: StoreKind): string {
  return path.join(ROOT, 'bench', 'results', `growth-${values.before ? 'before-' : ''}${store}.json`);
}

function save(store: StoreKind, result: GrowthResult): void {
  const file = resultFile(store);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ ...result, curves: curvesOf(result) }, null, 2)}\n`);
}

const started = performance.now();
for (const store of stores) {
  const file = resultFile(store);
  const previous: GrowthResult | null = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as GrowthResult) : null;
  const result: GrowthResult = {
    bench: 'growth',
    store,
    label: values.before ? 'before the fixes of issue 10' : 'current code',
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '', node: process.version },
    params: { scale, samples, sends: sendCount, backgroundUsers: BACKGROUND_USERS, stormPresence: presence },
    ranAt: { ...(previous?.ranAt ?? {}) },
    ops: { ...(previous?.ops ?? {}) },
  };
  for (const op of OPS.filter((o) => only.includes(o))) {
    const points: Array<Record<string, unknown>> = [];
    result.ranAt[op] = new Date().toISOString();
    if (op === 'send' || op === 'rooms') {
      // send and rooms share their databases when both run: GET /rooms first, before the sends add to the room.
      if (op === 'send' && only.includes('rooms')) continue;
      const both = only.includes('send') && only.includes('rooms');
      const sendPoints: Array<Record<string, unknown>> = [];
      for (const size of SIZES[op]) {
        console.log(`${store}: ${both ? 'rooms + send' : op}, ${size.toLocaleString('en-US')} messages`);
        await withServer(
          store,
          (db) => seedHistory(db, size),
          async (server, seed) => {
            if (op === 'rooms' || both) points.push(await measureRooms(server, seed, size));
            if (op === 'send' || both) sendPoints.push(await measureSend(server, seed, size));
          },
        );
        console.log(`  ${JSON.stringify(points.at(-1) ?? {})} ${JSON.stringify(sendPoints.at(-1) ?? {})}`);
      }
      if (op === 'rooms') result.ops.rooms = points;
      if (both) {
        result.ops.send = sendPoints;
        result.ranAt.send = result.ranAt.rooms as string;
      } else if (op === 'send') result.ops.send = sendPoints;
    } else {
      for (const size of SIZES[op]) {
        console.log(`${store}: ${op}, size ${size.toLocaleString('en-US')}`);
        const point = op === 'subscribe' ? await measureSubscribe(store, size) : op === 'storm' ? await measureStorm(store, size) : await measureSearch(store, size);
        console.log(`  ${JSON.stringify(point)}`);
        points.push(point);
      }
      result.ops[op] = points;
    }
    save(store, result);
  }
  console.log(`written to ${path.relative(process.cwd(), file)}`);
}
console.log(`growth bench done in ${((performance.now() - started) / 60_000).toFixed(1)} min`);
renderGrowth();
