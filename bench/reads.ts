/**
 * Reads at size: a server holding 1,000,000 messages over 10,000 rooms, asked what a user in
 * 50 of those rooms asks most (issue 15, item 5), on SQLite and on PostgreSQL:
 *
 *   rooms     GET /rooms: the user's 50 rooms by latest activity, each with its unread count
 *   history   GET /rooms/:id/messages?limit=50: the newest page, and a page `before` a seq
 *             anywhere in the room's history
 *   search    GET /search?q=: words and prefixes, common and rare, and one that matches nothing;
 *             over the user's rooms only (the privacy filter is part of the figure)
 *
 * The database is seeded straight through the schema before the server starts (as
 * bench/growth-seed.ts does), with times spread over a year and interleaved across rooms, as a
 * year of traffic leaves them; room sizes follow a long tail (a few rooms of thousands, most of
 * tens). Requests go one at a time over HTTP to a server of its own process, each as one of the
 * probe users in turn: latencies are end to end, the loopback round trip included.
 *
 *   npx tsx bench/reads.ts [--store sqlite,postgres] [--messages 1000000] [--rooms 10000]
 *                          [--user-rooms 50] [--samples 400]
 *
 * Results: bench/results/reads-<store>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { newId } from '../src/domain/ids.js';
import { searchText } from '../src/domain/search.js';
import { chatLine, type SeedDb, type SeedUser, seedUsers } from './growth-seed.js';
import { call, cpuMs, type GrowthServer, percentile, round, type StoreKind, storeTiming, withServer } from './growth-server.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite,postgres' },
    messages: { type: 'string', default: '1000000' },
    rooms: { type: 'string', default: '10000' },
    'user-rooms': { type: 'string', default: '50' },
    users: { type: 'string', default: '5000' },
    probes: { type: 'string', default: '20' },
    samples: { type: 'string', default: '400' },
  },
});
const MESSAGES = Number(values.messages);
const ROOMS = Number(values.rooms);
const USER_ROOMS = Number(values['user-rooms']);
const USERS = Number(values.users);
const PROBES = Number(values.probes);
const SAMPLES = Number(values.samples);
const YEAR_MS = 365 * 86_400_000;
/** A word no chat line holds, put into one message in 2,000: the rare match. */
const RARE = 'kumquat';

interface Probe {
  token: string;
  rooms: Array<{ id: string; lastSeq: number }>;
}

interface Seeded {
  probes: Probe[];
  rareInProbeRooms: number;
}

/** A long tail of room sizes summing to `total`, every room at least one message, shuffled. */
function roomSizes(rooms: number, total: number): number[] {
  const weights = Array.from({ length: rooms }, (_, i) => 1 / (i + 20) ** 1.1);
  const sum = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(1, Math.floor((w / sum) * total)));
  let left = total - sizes.reduce((a, b) => a + b, 0);
  for (let i = 0; left > 0; i = (i + 1) % rooms, left--) sizes[i] = (sizes[i] as number) + 1;
  for (let i = sizes.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [sizes[i], sizes[j]] = [sizes[j] as number, sizes[i] as number];
  }
  return sizes;
}

function sample<T>(from: T[], n: number): T[] {
  const picked = new Set<number>();
  while (picked.size < Math.min(n, from.length)) picked.add(Math.floor(Math.random() * from.length));
  return [...picked].map((i) => from[i] as T);
}

async function seed(db: SeedDb): Promise<Seeded> {
  const users = await seedUsers(db, USERS, PROBES);
  const probeUsers = users.slice(0, PROBES);
  const others = users.slice(PROBES);
  const sizes = roomSizes(ROOMS, MESSAGES);
  const roomIds = Array.from({ length: ROOMS }, () => newId());
  const memberOf = new Map<string, SeedUser[]>(roomIds.map((id) => [id, sample(others, 3 + Math.floor(Math.random() * 18))]));
  const probeRooms = new Map<SeedUser, string[]>();
  for (const p of probeUsers) {
    const mine = sample(roomIds, USER_ROOMS);
    probeRooms.set(p, mine);
    for (const id of mine) memberOf.get(id)?.push(p);
  }
  const now = Date.now();
  const rooms: Array<Array<string | number | null>> = [];
  const members: Array<Array<string | number | null>> = [];
  const cursors: Array<Array<string | number | null>> = [];
  const lastSeqOf = new Map<string, number>();
  const probeIds = new Set(probeUsers.map((p) => p.id));
  const rareRooms = new Set<string>();
  // Every event and message, inserted in time order across rooms as a live server writes them
  // (a room's rows scattered over the table, the newest rows the last written).
  const events: Array<Array<string | number | null>> = [];
  const messages: Array<Array<string | number | null>> = [];
  let line = 0;
  for (const [r, id] of roomIds.entries()) {
    const roomMembers = memberOf.get(id) as SeedUser[];
    const size = sizes[r] as number;
    const times = Array.from({ length: size }, () => now - Math.floor(Math.random() * YEAR_MS)).sort((a, b) => a - b);
    const createdAt = (times[0] as number) - 60_000;
    let seq = 0;
    const joinedAt = new Map<string, number>();
    for (const m of roomMembers) {
      seq++;
      joinedAt.set(m.id, createdAt + seq);
      events.push([id, seq, 'member_joined', null, m.id, createdAt + seq]);
    }
    for (const at of times) {
      seq++;
      line++;
      const author = roomMembers[Math.floor(Math.random() * roomMembers.length)] as SeedUser;
      const body = line % 2_000 === 0 ? `${chatLine(line)} ${RARE}` : chatLine(line);
      if (line % 2_000 === 0) rareRooms.add(id);
      events.push([id, seq, 'message', null, author.id, at]);
      messages.push([id, seq, newId(), author.id, body, at, null, 0, newId(), searchText(body), seq]);
    }
    lastSeqOf.set(id, seq);
    for (const [i, m] of roomMembers.entries()) {
      // A probe user has read most rooms to the end and is behind in some; others anywhere.
      const read = probeIds.has(m.id) ? (Math.random() < 0.7 ? seq : Math.max(0, seq - 1 - Math.floor(Math.random() * 300))) : Math.floor(Math.random() * (seq + 1));
      members.push([id, m.id, i === 0 ? 'owner' : 'member', joinedAt.get(m.id) as number, read]);
    }
    rooms.push([id, `room ${r} ${chatLine(r).split(' ').slice(0, 2).join(' ')}`, r % 4 === 0 ? 'public' : 'private', '', createdAt, seq, times.at(-1) ?? createdAt, null]);
    cursors.push([id, 'search', seq], [id, 'search_floor', seq]);
  }
  await db.insert('rooms', ['id', 'name', 'visibility', 'topic', 'created_at', 'last_seq', 'last_activity_at', 'dm_key'], rooms);
  const byTime = (a: Array<string | number | null>, b: Array<string | number | null>, at: number) => (a[at] as number) - (b[at] as number);
  await db.insert('events', ['room_id', 'seq', 'kind', 'target', 'user_id', 'created_at'], events.sort((a, b) => byTime(a, b, 5)));
  await db.insert('messages', ['room_id', 'seq', 'id', 'author_id', 'body', 'created_at', 'edited_at', 'deleted', 'client_msg_id', 'search_text', 'search_seq'], messages.sort((a, b) => byTime(a, b, 5)));
  await db.insert('members', ['room_id', 'user_id', 'role', 'joined_at', 'last_read_seq'], members);
  // The stream's consumers have taken every event, as on a server that ran that year.
  await db.insert('stream_cursors', ['room_id', 'consumer', 'cursor_seq'], cursors);
  await db.insert('notification_cursors', ['room_id', 'cursor_seq'], [...lastSeqOf].map(([id, seq]) => [id, seq]));
  const probes = probeUsers.map((p) => ({ token: p.token as string, rooms: (probeRooms.get(p) as string[]).map((id) => ({ id, lastSeq: lastSeqOf.get(id) as number })) }));
  const rareInProbeRooms = probes.reduce((n, p) => n + p.rooms.filter((r) => rareRooms.has(r.id)).length, 0);
  return { probes, rareInProbeRooms };
}

/** Cumulative counts of the server's own request durations (parley_http_request_duration_seconds), per `le`, over every route. */
async function serverBuckets(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    // The bench's own readings of /metrics are not the requests measured.
    if (line.includes('route="/metrics"')) continue;
    const m = /^parley_http_request_duration_seconds_bucket\{.*le="([^"]+)".*\} ([\d.e+-]+)/.exec(line);
    if (m !== null) out.set(m[1] as string, (out.get(m[1] as string) ?? 0) + Number(m[2]));
  }
  return out;
}

/** Of the requests the server answered between two readings, the share within 2.5, 5 and 10 ms of its own time. */
function serverShares(a: Map<string, number>, b: Map<string, number>): Record<string, number> {
  const n = (b.get('+Inf') ?? 0) - (a.get('+Inf') ?? 0);
  const within = (le: string) => round(((b.get(le) ?? 0) - (a.get(le) ?? 0)) / Math.max(1, n), 3);
  return { requests: n, within2_5ms: within('0.0025'), within5ms: within('0.005'), within10ms: within('0.01') };
}

interface Figures {
  samples: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

const figures = (ms: number[]): Figures => ({
  samples: ms.length,
  p50: round(percentile(ms, 50)),
  p95: round(percentile(ms, 95)),
  p99: round(percentile(ms, 99)),
  max: round(Math.max(...ms)),
});

/** `n` requests one at a time, each by the next probe; every answer must be 200. */
async function measure(server: GrowthServer, probes: Probe[], n: number, route: (probe: Probe, i: number) => string, check?: (body: Record<string, unknown>) => void): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const probe = probes[i % probes.length] as Probe;
    const answer = await call(server.url, 'GET', route(probe, i), probe.token);
    if (answer.status !== 200) throw new Error(`GET ${route(probe, i)} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    check?.(answer.body as Record<string, unknown>);
    ms.push(answer.ms);
  }
  return ms;
}

const SEARCHES: Array<{ q: string; what: string }> = [
  { q: 'deploy', what: 'a word in 1 line of 30' },
  { q: 'release server', what: 'two words' },
  { q: 'sea', what: 'a prefix' },
  { q: 'w', what: 'a one-letter prefix' },
  { q: RARE, what: 'a word in 1 line of 2,000' },
  { q: 'zyzzyva', what: 'no match anywhere' },
];

async function run(store: StoreKind): Promise<Record<string, unknown>> {
  console.log(`\n${store}: seeding ${MESSAGES.toLocaleString('en')} messages over ${ROOMS.toLocaleString('en')} rooms`);
  return withServer(store, seed, async (server, seeded) => {
    const { probes } = seeded;
    if (process.env.READS_HOLD !== undefined) {
      console.log(`HOLD ${server.url} ${probes[0]?.token} ${JSON.stringify(probes[0]?.rooms.map((r) => r.id))}`);
      const { existsSync, writeFileSync: w } = await import('node:fs');
      w(process.env.READS_HOLD, '');
      while (existsSync(process.env.READS_HOLD)) await new Promise((r) => setTimeout(r, 1000));
    }
    // Warm the server's caches the way a day of use does: each probe's first request is not counted.
    await measure(server, probes, probes.length * 2, () => '/rooms');
    // A server with nothing to do uses next to no CPU: background work would distort every figure.
    const idleFrom = cpuMs(server.pid);
    await new Promise((r) => setTimeout(r, 3_000));
    const idleCpu = round((cpuMs(server.pid) - idleFrom) / 3_000, 3);
    console.log(`  server CPU while idle: ${idleCpu} of a core`);
    const result: Record<string, unknown> = { idleCpu, store, messages: MESSAGES, rooms: ROOMS, userRooms: USER_ROOMS, probes: PROBES, at: new Date().toISOString() };

    const stores = async () => Object.fromEntries(await Promise.all(['listMemberRooms', 'readHistory', 'search'].map(async (op) => [op, await storeTiming(server.url, op)] as const)));
    const storeMean = (a: Awaited<ReturnType<typeof stores>>, b: Awaited<ReturnType<typeof stores>>, op: string): number | null => {
      const x = a[op];
      const y = b[op];
      return x === undefined || y === undefined || y.count <= x.count ? null : round(((y.sumSeconds - x.sumSeconds) * 1000) / (y.count - x.count), 3);
    };
    // The floor of any authenticated request here: the session and user read, HTTP, the client.
    let buckets = await serverBuckets(server.url);
    const served = async () => {
      const now = await serverBuckets(server.url);
      const shares = serverShares(buckets, now);
      buckets = now;
      return shares;
    };
    const me = await measure(server, probes, SAMPLES, () => '/me');
    result.floor = { ...figures(me), server: await served() };
    console.log(`  GET /me (the floor): ${JSON.stringify(result.floor)}`);

    let mark = await stores();
    let roomsListed = 0;
    let unreadRooms = 0;
    const list = await measure(server, probes, SAMPLES, () => '/rooms', (body) => {
      const rooms = body.rooms as Array<{ unread: number }>;
      roomsListed = rooms.length;
      unreadRooms = rooms.filter((r) => r.unread > 0).length;
    });
    if (roomsListed !== USER_ROOMS) throw new Error(`GET /rooms listed ${roomsListed} rooms, not ${USER_ROOMS}`);
    let now = await stores();
    result.roomList = { ...figures(list), server: await served(), rooms: roomsListed, withUnread: unreadRooms, storeMeanMs: storeMean(mark, now, 'listMemberRooms') };
    console.log(`  GET /rooms (${roomsListed} rooms, ${unreadRooms} with unread): ${JSON.stringify(result.roomList)}`);

    mark = now;
    const room = (p: Probe, i: number) => p.rooms[(i * 7) % p.rooms.length] as { id: string; lastSeq: number };
    const newest = await measure(server, probes, SAMPLES, (p, i) => `/rooms/${room(p, i).id}/messages?limit=50`);
    const older = await measure(server, probes, SAMPLES, (p, i) => `/rooms/${room(p, i).id}/messages?limit=50&before=${1 + Math.floor(Math.random() * room(p, i).lastSeq)}`);
    now = await stores();
    const history = { newest: figures(newest), before: figures(older), all: figures([...newest, ...older]), server: await served(), storeMeanMs: storeMean(mark, now, 'readHistory') };
    result.history = history;
    console.log(`  history, newest page: ${JSON.stringify(history.newest)}; before a seq: ${JSON.stringify(history.before)}; server ${JSON.stringify(history.server)}, store mean ${history.storeMeanMs} ms`);

    mark = await stores();
    await served();
    const searches: Record<string, unknown>[] = [];
    const all: number[] = [];
    for (const { q, what } of SEARCHES) {
      let hits = 0;
      let truncated = 0;
      const ms = await measure(server, probes, Math.max(20, Math.floor(SAMPLES / 4)), () => `/search?q=${encodeURIComponent(q)}&limit=20`, (body) => {
        hits += (body.hits as unknown[]).length;
        if (body.truncated === true) truncated++;
      });
      all.push(...ms);
      const done = await stores();
      const storeMs = storeMean(mark, done, 'search');
      mark = done;
      const n = ms.length;
      searches.push({ q, what, ...figures(ms), meanHits: round(hits / n, 1), truncatedShare: round(truncated / n, 2), storeMeanMs: storeMs });
      console.log(`  search ${JSON.stringify(q)} (${what}): ${JSON.stringify(figures(ms))}, ${(hits / n).toFixed(1)} hits, truncated ${truncated}/${n}, store mean ${storeMs} ms`);
    }
    result.search = { queries: searches, all: figures(all), server: await served(), rareInProbeRooms: seeded.rareInProbeRooms };
    return result;
  });
}

mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
for (const store of values.store.split(',') as StoreKind[]) {
  const result = await run(store);
  const file = path.join(ROOT, `bench/results/reads-${store}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`  → ${path.relative(ROOT, file)}`);
}
