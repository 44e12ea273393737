/**
 * Search under load: one big public room filled with ordinary messages (written straight into
 * the store in big batches, as history accumulates), then `GET /search?q=a` by a member of that
 * room and by a user who is not in it, while other users call `GET /me` in a loop. Prints the
 * latency of each search and of `GET /me` while searches run, and every answer that was not 2xx.
 *
 *   npx tsx bench/search.ts [--store sqlite|postgres] [--messages 25000,150000] [--searches 10]
 *
 * The server runs as its own process (`src/cli.ts start`); PostgreSQL uses PARLEY_BENCH_PG_URL
 * or the local server (a fresh database, dropped afterwards).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openPostgresStore } from '../src/adapters/sql/postgres.js';
import { openSqliteStore } from '../src/adapters/sql/sqlite.js';
import { newId } from '../src/domain/ids.js';
import type { AppendRequest, Store } from '../src/ports.js';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.js';
import { freePort } from '../test/support/services.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite' },
    messages: { type: 'string', default: '25000,150000' },
    searches: { type: 'string', default: '10' },
    /** Longest wait for one answer, s: a server that stops answering is reported, not waited for. */
    'request-timeout': { type: 'string', default: '60' },
  },
});
const sizes = (values.messages as string).split(',').map(Number);
const searches = Number(values.searches);
const requestTimeoutMs = Number(values['request-timeout']) * 1000;

const WORDS =
  'the a an and are about after again all also always any around ask at away back be because been before being best better big both but by call can come could day did different do does down each end even every few find first for from get give go good great had has have he help her here high him his home house how i if in into is it its just keep kind know large last leave let life like line little long look made make man many may me might more most move much must my name need never new next no not now number of off old on one only or other our out over own part people place point put read right room said same say see seem she should show side small so some something sound spell still study such take tell than that the their them then there these they thing think this three through time to too try turn two under up us use very want was water way we well went were what when where which while who why will with word work world would write year you your deploy release build server client message search index query'.split(
    ' ',
  );

/** An ordinary chat line: 6–16 common words (most lines have a word starting with "a"). */
function line(i: number): string {
  const n = 6 + (i % 11);
  const words: string[] = [];
  let x = (i * 2654435761) >>> 0;
  for (let k = 0; k < n; k++) {
    x = (x * 1103515245 + 12345) >>> 0;
    words.push(WORDS[x % WORDS.length] as string);
  }
  return words.join(' ');
}

interface Server {
  url: string;
  child: ChildProcess;
  file: string | null;
  dbUrl: string | null;
  stop(): Promise<void>;
}

async function startServer(): Promise<Server> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-bench-search-'));
  const db: TestDatabase | null = values.store === 'postgres' ? await createTestDatabase() : null;
  const env = {
    ...process.env,
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    SCRYPT_COST: '10',
    AUTH_RATE_PER_MIN: '100000',
    SEND_RATE_PER_SEC: '100000',
    SEND_BURST: '100000',
    LOAD_SHED_LAG_MS: '0',
    ...(db === null ? {} : { DATABASE_URL: db.url }),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error('the server did not start within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    child,
    file: db === null ? path.join(dataDir, 'parley.db') : null,
    dbUrl: db?.url ?? null,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      const started = performance.now();
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (child.exitCode === null && child.signalCode === null) {
        console.log('the server did not exit within 20 s of SIGTERM: killed');
        child.kill('SIGKILL');
        await exited;
      } else {
        console.log(`the server exited ${Math.round(performance.now() - started)} ms after SIGTERM (${child.exitCode ?? child.signalCode})`);
      }
      rmSync(dataDir, { recursive: true, force: true });
      await db?.drop();
    },
  };
}

/** The fields of the answers this bench reads. */
interface Body {
  user?: { id: string };
  token?: string;
  room?: { id: string };
  hits?: unknown[];
  truncated?: boolean;
}

interface Answer {
  status: number;
  ms: number;
  body: Body | null;
}

async function call(url: string, method: string, route: string, token: string | null, body?: unknown): Promise<Answer> {
  const started = performance.now();
  try {
    const res = await fetch(`${url}/api/v1${route}`, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(requestTimeoutMs),
    });
    const text = await res.text();
    return { status: res.status, ms: performance.now() - started, body: text === '' ? null : JSON.parse(text) };
  } catch {
    // No answer within the timeout (status 0).
    return { status: 0, ms: performance.now() - started, body: null };
  }
}

async function must(url: string, method: string, route: string, token: string | null, body?: unknown): Promise<Body> {
  const a = await call(url, method, route, token, body);
  if (a.status >= 300 || a.body === null) throw new Error(`${method} ${route}: ${a.status} ${JSON.stringify(a.body)}`);
  return a.body;
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const fmt = (ms: number): string => (Number.isNaN(ms) ? '-' : ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);

async function main(): Promise<void> {
  const server = await startServer();
  const { url } = server;
  const stamp = Date.now().toString(36);
  const reg = async (name: string) => {
    const r = await must(url, 'POST', '/auth/register', null, { username: `${name}${stamp}`, password: 'bench password 1' });
    return { id: r.user?.id as string, token: r.token as string };
  };
  const seeder = await reg('seeder');
  const member = await reg('member');
  const outsider = await reg('outsider');
  const watchers = await Promise.all([1, 2, 3, 4].map((i) => reg(`watch${i}_`)));
  const big = (await must(url, 'POST', '/rooms', seeder.token, { name: 'big', visibility: 'public' })).room?.id as string;
  await must(url, 'POST', `/rooms/${big}/join`, member.token);
  const quiet = (await must(url, 'POST', '/rooms', outsider.token, { name: 'quiet', visibility: 'private' })).room?.id as string;
  await must(url, 'POST', `/rooms/${quiet}/messages`, outsider.token, { body: 'an answer in a quiet room' });

  const store: Store =
    server.file !== null
      ? openSqliteStore(server.file)
      : openPostgresStore(server.dbUrl as string, { poolSize: 2, statementTimeoutMs: 600_000 });
  let seeded = 0;
  const report: string[] = [];
  try {
    for (const size of sizes) {
      const started = performance.now();
      while (seeded < size) {
        const n = Math.min(5_000, size - seeded);
        const batch: AppendRequest[] = Array.from({ length: n }, (_, k) => ({
          kind: 'message',
          roomId: big,
          userId: seeder.id,
          id: newId(),
          body: line(seeded + k),
          clientMsgId: null,
          at: Date.now(),
        }));
        await store.append(batch);
        seeded += n;
      }
      console.log(`${size} messages in the big room (seeded in ${fmt(performance.now() - started)})`);

      // GET /me in a loop from four users while the searches run.
      let running = true;
      const me: Answer[] = [];
      const loops = watchers.map(async (w) => {
        while (running) me.push(await call(url, 'GET', '/me', w.token));
      });
      const results: Record<string, Answer[]> = { member: [], outsider: [] };
      let stuck = false;
      for (let i = 0; i < searches && !stuck; i++) {
        for (const [who, user] of [['member', member], ['outsider', outsider]] as const) {
          const answer = await call(url, 'GET', '/search?q=a', user.token);
          results[who]?.push(answer);
          // A server that failed a search is not asked again: the rest would only queue behind it.
          if (answer.status !== 200) {
            stuck = true;
            break;
          }
        }
      }
      running = false;
      await Promise.all(loops);
      const idle: Answer[] = [];
      for (let i = 0; i < 50 && !stuck; i++) idle.push(await call(url, 'GET', '/me', watchers[0]?.token ?? null));
      // The same searches with nothing else running.
      const alone: Record<string, Answer[]> = { member: [], outsider: [] };
      for (let i = 0; i < searches && !stuck; i++) {
        alone.member?.push(await call(url, 'GET', '/search?q=a', member.token));
        alone.outsider?.push(await call(url, 'GET', '/search?q=a', outsider.token));
      }

      const lines = [`### ${values.store}, ${size} messages, q=a`];
      for (const [who, answers] of Object.entries(results)) {
        const ok = answers.filter((a) => a.status === 200);
        const statuses = [...new Set(answers.map((a) => a.status))].join(',');
        const first = ok[0]?.body;
        lines.push(
          `search by ${who}: ${answers.length} asked, status ${statuses}; p50 ${fmt(pct(answers.map((a) => a.ms), 50))}, max ${fmt(Math.max(...answers.map((a) => a.ms)))}; hits ${first?.hits?.length ?? '-'}, truncated ${first?.truncated ?? '-'}`,
        );
      }
      const meStatuses = me.reduce<Record<number, number>>((acc, a) => {
        acc[a.status] = (acc[a.status] ?? 0) + 1;
        return acc;
      }, {});
      lines.push(
        `GET /me during searches: ${me.length} calls, status ${JSON.stringify(meStatuses)}; p50 ${fmt(pct(me.map((a) => a.ms), 50))}, p99 ${fmt(pct(me.map((a) => a.ms), 99))}, max ${fmt(Math.max(...me.map((a) => a.ms)))}`,
      );
      lines.push(`GET /me alone: p50 ${fmt(pct(idle.map((a) => a.ms), 50))}, p99 ${fmt(pct(idle.map((a) => a.ms), 99))}`);
      for (const [who, answers] of Object.entries(alone)) {
        if (answers.length > 0) lines.push(`search by ${who} alone: p50 ${fmt(pct(answers.map((a) => a.ms), 50))}, max ${fmt(Math.max(...answers.map((a) => a.ms)))}`);
      }
      console.log(lines.join('\n'));
      report.push(...lines);
      if (stuck) {
        console.log('the server stopped answering: larger sizes skipped');
        break;
      }
    }
  } finally {
    await store.close().catch(() => undefined);
    await server.stop();
  }
  console.log(`\n${report.join('\n')}`);
}

await main();
