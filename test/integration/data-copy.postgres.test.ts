/**
 * `parley data copy` and `parley data verify`, run as real processes between a real SQLite file
 * and real PostgreSQL databases (each test makes and drops its own):
 * - every table of a freshly migrated database, on either dialect, is copied or excluded with a
 *   reason, the same tables on both;
 * - the cut-over: a copy while a node takes acknowledged sends, the node stopped, a final copy
 *   that writes only what changed (new messages, an edit, a logout), verified; a node on the
 *   PostgreSQL database then serves every acknowledged message at its seq, the old sessions (but
 *   the one logged out), and the next send gets the next seq;
 * - a copy killed mid-way and run again completes, duplicates nothing, and a third run writes 0;
 * - verify finds a message altered on the target and names its room;
 * - the way back, PostgreSQL to SQLite, with the search index rebuilt there.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import type { Database } from '../../src/adapters/sql/schema.js';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { listTables } from '../../src/store-copy/stores.js';
import { EXCLUDED, KEY_OVERRIDES, MOVABLE_UNIQUES, STABLE_UNIQUES, tablesToCopy } from '../../src/store-copy/tables.js';
import { deletedUsername } from '../../src/domain/administration.js';
import { makeAdmin } from '../support/admin.js';
import type { Json } from '../support/json.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { api, createRoom, registerUser, searchFresh, startTestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  lines: Json[];
}

const parseLines = (stdout: string): Json[] =>
  stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Json);

/** `parley data …` as a child process; `onLine` may kill it (SIGKILL) by returning true. */
function parley(args: string[], env: Record<string, string>, onLine?: (line: Json) => boolean): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'data', ...args], { env: { ...process.env, LOG_LEVEL: 'warn', DATABASE_URL: '', ...env } });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      pending += d.toString();
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      for (const line of complete) if (line.trim() !== '' && onLine?.(JSON.parse(line) as Json) === true) child.kill('SIGKILL');
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr, lines: code === 0 || code === 1 ? parseLines(stdout) : [] }));
  });
}

const summaryOf = (run: Run): Json => {
  const summary = run.lines.find((l) => l.summary !== undefined);
  assert.ok(summary, `no summary in ${run.stdout} / ${run.stderr}`);
  return summary;
};

/** Every message of a room, oldest first, paged through REST. */
async function history(url: string, token: string, roomId: string): Promise<Map<number, string>> {
  const all = new Map<number, string>();
  let afterSeq = 0;
  for (;;) {
    const page = await api(url, 'GET', `/api/v1/rooms/${roomId}/messages?after=${afterSeq}&limit=100`, { token });
    assert.equal(page.status, 200);
    const messages = page.body.messages as Json[];
    for (const m of messages) all.set(m.seq as number, m.body as string);
    if (page.body.hasMore !== true) return all;
    afterSeq = messages[messages.length - 1]?.seq as number;
  }
}

function pgDb(url: string): Kysely<Database> {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) });
}

/** Sends over REST, `parallel` at a time, `count` in all, spread over `rooms`. */
async function fill(url: string, user: TestUser, rooms: string[], count: number, parallel = 16): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const n = next++;
      const res = await api(url, 'POST', `/api/v1/rooms/${rooms[n % rooms.length]}/messages`, { token: user.token, body: { body: `fill ${n} ünïcode ✓` } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
}

const fast = { SEND_RATE_PER_SEC: 100_000, SEND_BURST: 100_000, FRAME_RATE_PER_SEC: 100_000, FRAME_BURST: 100_000 };

if (await requirePostgres('data copy')) {
  describe('parley data copy between SQLite and PostgreSQL', () => {
    const dirs: string[] = [];
    const databases: TestDatabase[] = [];
    const dir = () => {
      const d = mkdtempSync(path.join(tmpdir(), 'parley-data-copy-'));
      dirs.push(d);
      return d;
    };
    const database = async () => {
      const d = await createTestDatabase();
      databases.push(d);
      return d;
    };
    after(async () => {
      for (const d of databases) await d.drop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    });

    it('every table of the schema, on either dialect, is copied or excluded with a reason', async () => {
      const file = path.join(dir(), 'parley.db');
      const sqliteStore = openSqliteStore(file);
      await sqliteStore.migrate();
      await sqliteStore.close();
      const target = await database();
      const pgStore = openPostgresStore(target.url, { poolSize: 1, statementTimeoutMs: 10_000 });
      await pgStore.migrate();
      await pgStore.close();

      const lite = new Kysely<Database>({ dialect: new SqliteDialect({ database: new Sqlite(file, { readonly: true }) }) });
      const pgq = pgDb(target.url);
      try {
        const liteTables = await listTables(lite, 'sqlite');
        const pgTables = await listTables(pgq, 'postgres');
        const copiedLite = tablesToCopy(liteTables).sort();
        const copiedPg = tablesToCopy(pgTables).sort();
        assert.deepEqual(copiedLite, copiedPg, 'the same tables are copied from either dialect');
        for (const t of [...liteTables, ...pgTables]) {
          const excluded = Object.hasOwn(EXCLUDED, t.name) || liteTables.some((v) => v.type === 'virtual' && t.type === 'shadow' && t.name.startsWith(`${v.name}_`));
          assert.ok(copiedLite.includes(t.name) !== excluded, `${t.name} is either copied or excluded`);
        }
        for (const reason of Object.values(EXCLUDED)) assert.ok(reason.length > 20, 'every exclusion says why');
        for (const t of ['users', 'sessions', 'rooms', 'members', 'events', 'messages', 'uploads', 'jobs', 'stream_cursors', 'notifications', 'server_roles']) assert.ok(copiedLite.includes(t), t);
        // A virtual table nobody listed (a new index) is refused, not skipped in silence.
        assert.throws(() => tablesToCopy([...liteTables, { name: 'surprise_fts', type: 'virtual' }]), /surprise_fts .* neither copied nor excluded/);
      } finally {
        await lite.destroy();
        await pgq.destroy();
      }
    });

    it('cut-over: copy under traffic, freeze, final copy, verify; a node on PostgreSQL serves it all', async () => {
      const live = dir();
      const target = await database();
      const server = await startTestServer({ DATA_DIR: live, ...fast });
      const alice = await registerUser(server.url, 'calice');
      const bob = await registerUser(server.url, 'cbob');
      const rooms = [await createRoom(server.url, alice, 'private', 'one'), await createRoom(server.url, alice, 'public', 'two')];

      const acked: { roomId: string; seq: number; body: string }[] = [];
      let sending = true;
      const clients = await Promise.all(rooms.map(() => WsTestClient.connect(server.wsUrl, { token: alice.token })));
      const traffic = Promise.all(
        rooms.map(async (roomId, r) => {
          let n = 0;
          const lane = async () => {
            while (sending) {
              const body = `room ${r} message ${n++}`;
              const reply = await (clients[r] as WsTestClient).request({ type: 'send', roomId, body });
              if (typeof reply.message?.seq !== 'number') throw new Error(`a send was not acknowledged: ${JSON.stringify(reply)}`);
              acked.push({ roomId, seq: reply.message.seq, body });
            }
          };
          await Promise.all([lane(), lane(), lane()]);
        }),
      );
      const enough = async (n: number) => {
        while (acked.length < n) await new Promise((r) => setTimeout(r, 20));
      };
      try {
        await enough(200);
        const ackedBeforeCopy = acked.length;
        const first = await parley(['copy', '--to', target.url], { DATA_DIR: live });
        assert.equal(first.code, 0, first.stderr);
        const firstSummary = summaryOf(first);
        assert.equal(firstSummary.verified, true, 'the copy matches the snapshot it read, traffic or not');
        assert.ok((firstSummary.tables.messages.inserted as number) >= ackedBeforeCopy);
        assert.ok(first.lines.some((l) => l.progress === 'copying' && l.table === 'messages'), 'progress lines');
        await enough(acked.length + 100);
      } finally {
        sending = false;
        await traffic;
      }
      for (const ws of clients) ws.close();
      // Changes to rows the first copy took: an edit, and a session ended.
      const edited = acked[0] as { roomId: string; seq: number; body: string };
      const edit = await api(server.url, 'PATCH', `/api/v1/rooms/${edited.roomId}/messages/${edited.seq}`, { token: alice.token, body: { body: 'edited after the first copy' } });
      assert.equal(edit.status, 200, JSON.stringify(edit.body));
      edited.body = 'edited after the first copy';
      assert.equal((await api(server.url, 'POST', '/api/v1/auth/logout', { token: bob.token })).status < 300, true);
      const listed = await api(server.url, 'GET', '/api/v1/rooms', { token: alice.token });
      const lastSeq = new Map((listed.body.rooms as Json[]).map((r) => [r.id as string, r.lastSeq as number]));
      await server.stop();

      const final = await parley(['copy', '--to', target.url], { DATA_DIR: live });
      assert.equal(final.code, 0, final.stderr);
      const summary = summaryOf(final);
      assert.equal(summary.verified, true);
      assert.ok((summary.tables.messages.inserted as number) >= 100, 'the messages sent after the first copy');
      assert.ok((summary.tables.messages.updated as number) >= 1, 'the edit');
      assert.ok((summary.tables.rooms.updated as number) >= 1, "the rooms' last seq");
      assert.equal(summary.tables.sessions.deleted, 1, 'the session logged out');
      assert.ok((summary.tables.messages.inserted as number) < acked.length, 'only what changed is written again');
      const verified = await parley(['verify', '--to', target.url], { DATA_DIR: live });
      assert.equal(verified.code, 0, verified.stderr);

      const onPg = await startTestServer({ DATA_DIR: live, DATABASE_URL: target.url, ...fast });
      try {
        assert.equal((await api(onPg.url, 'GET', '/api/v1/me', { token: alice.token })).status, 200, 'the same session token works');
        assert.equal((await api(onPg.url, 'GET', '/api/v1/me', { token: bob.token })).status, 401, 'a session ended before the final copy stays ended');
        for (const roomId of rooms) {
          const served = await history(onPg.url, alice.token, roomId);
          const mine = acked.filter((a) => a.roomId === roomId);
          for (const a of mine) assert.equal(served.get(a.seq), a.body, `room ${roomId} seq ${a.seq}`);
          assert.equal(served.size, mine.length, 'nothing but the acknowledged messages');
          const ws = await WsTestClient.connect(onPg.wsUrl, { token: alice.token });
          const next = await ws.request({ type: 'send', roomId, body: 'on PostgreSQL' });
          ws.close();
          assert.equal(next.message.seq, (lastSeq.get(roomId) ?? 0) + 1, 'the next send gets the next seq on the stopped node');
        }
      } finally {
        await onPg.stop();
      }
    });

    it('a copy killed mid-way resumes, duplicates nothing, and a repeated run writes nothing', async () => {
      const live = dir();
      const target = await database();
      const server = await startTestServer({ DATA_DIR: live, ...fast });
      const alice = await registerUser(server.url, 'ralice');
      const rooms = [await createRoom(server.url, alice, 'private', 'a'), await createRoom(server.url, alice, 'private', 'b'), await createRoom(server.url, alice, 'public', 'c')];
      await fill(server.url, alice, rooms, 1_500);
      await server.stop();

      let killedAt: Json | null = null;
      const killed = await parley(['copy', '--to', target.url, '--batch', '50'], { DATA_DIR: live }, (line) => {
        if (killedAt === null && line.progress === 'copying' && line.table === 'events') {
          killedAt = line;
          return true;
        }
        return false;
      });
      assert.equal(killed.code, null, 'killed by the signal');
      assert.ok(killedAt !== null);
      const db = pgDb(target.url);
      try {
        const partial = await db.selectFrom('messages').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
        assert.ok(Number(partial.n) < 1_500, `the copy was cut before the messages (${partial.n})`);

        const resumed = await parley(['copy', '--to', target.url, '--batch', '50'], { DATA_DIR: live });
        assert.equal(resumed.code, 0, resumed.stderr);
        const summary = summaryOf(resumed);
        assert.equal(summary.verified, true);
        assert.equal(summary.tables.messages.inserted, 1_500 - Number(partial.n), 'only the rows the killed run had not written');
        assert.ok((summary.tables.events.inserted as number) < (summary.tables.events.read as number), 'events the killed run wrote are not written again');

        const counted = await db.selectFrom('messages').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
        assert.equal(Number(counted.n), 1_500);

        const again = await parley(['copy', '--to', target.url], { DATA_DIR: live });
        assert.equal(again.code, 0, again.stderr);
        const idle = summaryOf(again);
        assert.deepEqual([idle.inserted, idle.updated, idle.deleted], [0, 0, 0], 'a repeated copy writes nothing');
        assert.ok((idle.read as number) > 3_000);
        process.stdout.write(`# data copy: ${idle.read} rows compared in ${idle.ms} ms (${idle.rowsPerSec} rows/s); resumed run ${summary.read} rows in ${summary.ms} ms\n`);
      } finally {
        await db.destroy();
      }
    });

    it('verify finds a message altered on the target and names its room', async () => {
      const live = dir();
      const target = await database();
      const server = await startTestServer({ DATA_DIR: live, ...fast });
      const alice = await registerUser(server.url, 'valice');
      const rooms = [await createRoom(server.url, alice, 'private', 'kept'), await createRoom(server.url, alice, 'private', 'altered')];
      await fill(server.url, alice, rooms, 40);
      await server.stop();
      const copied = await parley(['copy', '--to', target.url], { DATA_DIR: live });
      assert.equal(copied.code, 0, copied.stderr);

      const db = pgDb(target.url);
      try {
        await db.updateTable('messages').set({ body: 'tampered' }).where('room_id', '=', rooms[1] as string).where('seq', '=', 5).execute();
      } finally {
        await db.destroy();
      }
      const checked = await parley(['verify', '--to', target.url], { DATA_DIR: live });
      assert.equal(checked.code, 1, checked.stderr);
      const differences = checked.lines.filter((l) => l.difference !== undefined).map((l) => l.difference);
      assert.deepEqual(differences.map((d) => [d.table, d.room, d.what]), [['messages', rooms[1], 'checksum']]);
      assert.equal(summaryOf(checked).verified, false);
      assert.match(checked.stderr, /differs from the source in 1 place/);
      assert.doesNotMatch(checked.stderr, /\n\s+at /, 'no stack trace');

      // A copy run again repairs it.
      const repaired = await parley(['copy', '--to', target.url], { DATA_DIR: live });
      assert.equal(repaired.code, 0, repaired.stderr);
      assert.equal(summaryOf(repaired).tables.messages.updated, 1);

      // Nodes have written to the target since (an event newer than the source's newest): a copy
      // would delete it, so it is refused, and nothing is deleted; --force copies anyway.
      const writer = pgDb(target.url);
      try {
        const newest = await writer.selectFrom('events').select((e) => e.fn.max('created_at').as('at')).executeTakeFirstOrThrow();
        await writer.updateTable('events').set({ created_at: Number(newest.at) + 60_000 }).where('room_id', '=', rooms[0] as string).where('seq', '=', 1).execute();
        const ahead = await parley(['copy', '--to', target.url], { DATA_DIR: live });
        assert.equal(ahead.code, 1, ahead.stdout);
        assert.match(ahead.stderr, /the target holds events newer than the source's newest/);
        assert.equal(ahead.lines.filter((l) => l.progress === 'deleted' || l.progress === 'copying').length, 0, 'nothing was written');
        const forced = await parley(['copy', '--to', target.url, '--force'], { DATA_DIR: live });
        assert.equal(forced.code, 0, forced.stderr);
        assert.equal(summaryOf(forced).tables.events.updated, 1);
      } finally {
        await writer.destroy();
      }

      // The same database under another address is the source itself.
      const other = new URL(target.url);
      other.hostname = 'localhost';
      const self = await parley(['copy', '--to', other.toString()], { DATA_DIR: '', DATABASE_URL: target.url });
      assert.equal(self.code, 2, self.stderr);
      assert.match(self.stderr, /the target is the source/);
    });

    it('a username given up and taken by another between two runs (a deletion, then a registration) is copied', async () => {
      const live = dir();
      const target = await database();
      const server = await startTestServer({ DATA_DIR: live, ...fast });
      const admin = await registerUser(server.url, 'uadmin');
      const leaver = await registerUser(server.url, 'uleaver');
      await makeAdmin(server, admin.id);
      const room = await createRoom(server.url, leaver, 'public', 'kept');
      await fill(server.url, leaver, [room], 5);
      const first = await parley(['copy', '--to', target.url], { DATA_DIR: live });
      assert.equal(first.code, 0, first.stderr);

      // The account is deleted (its name becomes deleted-…) and another takes its name, under an
      // id that sorts before it: the new row is written first, while the target still gives the
      // name to the old one.
      assert.equal((await api(server.url, 'DELETE', `/api/v1/admin/users/${leaver.id}`, { token: admin.token })).status, 204);
      await server.parley.services.store.createUser({ id: '----taken-over--', username: leaver.username, displayName: 'Newcomer', passwordHash: '!', createdAt: Date.now() });
      await server.stop();
      const second = await parley(['copy', '--to', target.url], { DATA_DIR: live });
      assert.equal(second.code, 0, second.stderr);
      const users = summaryOf(second).tables.users;
      assert.deepEqual([users.inserted, users.updated, users.parked], [1, 1, 1]);
      const checked = await parley(['verify', '--to', target.url], { DATA_DIR: live });
      assert.equal(checked.code, 0, checked.stderr);
      const db = pgDb(target.url);
      try {
        const rows = await db.selectFrom('users').select(['id', 'username']).where('id', 'in', [leaver.id, '----taken-over--']).orderBy('id').execute();
        assert.equal(rows.length, 2);
        assert.equal(rows.find((r) => r.id === '----taken-over--')?.username, leaver.username);
        assert.equal(rows.find((r) => r.id === leaver.id)?.username, deletedUsername(leaver.id));
      } finally {
        await db.destroy();
      }
      // Run again: nothing to write, nothing parked.
      const again = await parley(['copy', '--to', target.url], { DATA_DIR: live });
      assert.deepEqual([summaryOf(again).tables.users.inserted, summaryOf(again).tables.users.updated, summaryOf(again).tables.users.parked], [0, 0, 0]);
    });

    it('every unique constraint besides the key is movable (parked on a clash) or stable', async () => {
      const target = await database();
      const store = openPostgresStore(target.url, { poolSize: 1, statementTimeoutMs: 10_000 });
      await store.migrate();
      await store.close();
      const client = new pg.Client({ connectionString: target.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ tablename: string; indexdef: string; primary: boolean }>(
          `SELECT i.tablename, i.indexdef, x.indisprimary AS primary FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid
           WHERE i.schemaname = current_schema() AND x.indisunique`,
        );
        const catalog = pgDb(target.url);
        const copied = tablesToCopy(await listTables(catalog, 'postgres'));
        await catalog.destroy();
        const declared = new Set([...STABLE_UNIQUES, ...Object.entries(MOVABLE_UNIQUES).flatMap(([t, list]) => list.map((u) => `${t}(${u.columns.join(', ')})`))]);
        for (const row of rows) {
          if (row.primary || !copied.includes(row.tablename)) continue;
          const columns = /\(([^)]*)\)/.exec(row.indexdef)?.[1] ?? '';
          const name = `${row.tablename}(${columns})`;
          const key = KEY_OVERRIDES[row.tablename];
          if (key !== undefined && key.join(', ') === columns) continue;
          assert.ok(declared.has(name), `${name} is neither in MOVABLE_UNIQUES nor STABLE_UNIQUES (src/store-copy/tables.ts)`);
        }
      } finally {
        await client.end();
      }
    });

    it('the way back: PostgreSQL to SQLite, search rebuilt there', async () => {
      const source = await database();
      const back = dir();
      const server = await startTestServer({ DATA_DIR: dir(), DATABASE_URL: source.url, ...fast });
      const alice = await registerUser(server.url, 'balice');
      const roomId = await createRoom(server.url, alice, 'public', 'homeward');
      await fill(server.url, alice, [roomId], 30, 4);
      const tagged = await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: alice.token, body: { body: 'a zeppelin overhead' } });
      assert.equal(tagged.status, 201);
      // The search index has taken every message before the copy.
      assert.equal((await searchFresh(server.url, `/api/v1/search?q=zeppelin`, alice.token)).status, 200);
      await server.stop();

      const copied = await parley(['copy', '--to', `sqlite:${path.join(back, 'parley.db')}`], { DATABASE_URL: source.url, DATA_DIR: back });
      assert.equal(copied.code, 0, copied.stderr);
      assert.equal(summaryOf(copied).verified, true);
      assert.equal(summaryOf(copied).tables.messages.inserted, 31);

      // The search's own deadline raised: what is checked is that the copy is searchable, not how
      // fast a first search is on a machine busy with other tests.
      const onSqlite = await startTestServer({ DATA_DIR: back, ...fast, SEARCH_TIMEOUT_MS: 20_000 });
      try {
        assert.equal((await api(onSqlite.url, 'GET', '/api/v1/me', { token: alice.token })).status, 200);
        const served = await history(onSqlite.url, alice.token, roomId);
        assert.equal(served.size, 31);
        const found = await searchFresh(onSqlite.url, `/api/v1/search?q=zeppelin`, alice.token);
        assert.equal(found.status, 200, JSON.stringify(found.body));
        assert.deepEqual(
          (found.body.hits as Json[]).map((h) => h.message.body),
          ['a zeppelin overhead'],
          'the full-text index was rebuilt on the SQLite target',
        );
      } finally {
        await onSqlite.stop();
      }
    });

    it('refuses a wrong URL (2) and an unreachable target (1) in one line, without a stack trace', async () => {
      const live = dir();
      const store = openSqliteStore(path.join(live, 'parley.db'));
      await store.migrate();
      await store.close();
      const wrong = await parley(['copy', '--to', 'mysql://somewhere/db'], { DATA_DIR: live });
      assert.equal(wrong.code, 2);
      assert.match(wrong.stderr, /--to must be postgres:/);
      const down = await parley(['copy', '--to', 'postgres://postgres@127.0.0.1:1/parley'], { DATA_DIR: live });
      assert.equal(down.code, 1);
      assert.match(down.stderr, /^parley data copy: cannot reach the target 127\.0\.0\.1:1\/parley: .*ECONNREFUSED/);
      assert.doesNotMatch(down.stderr, /\n\s+at /);
      const none = await parley(['copy', '--to', 'postgres://postgres@127.0.0.1:5432/x'], { DATA_DIR: dir() });
      assert.equal(none.code, 1);
      assert.match(none.stderr, /no database at/);
    });
  });
}
