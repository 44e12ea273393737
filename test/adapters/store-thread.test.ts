/**
 * The threads of the embedded store: a search stopped inside its statement leaves its thread
 * serving; a thread stuck inside SQLite is detached and replaced; calls posted before a
 * cancellation are refused unrun.
 */
import { searchIndexed } from '../support/search-index.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { openThreadedSqliteStore, type ThreadedStore } from '../../src/adapters/sql/sqlite-thread.js';
import { StoreThread } from '../../src/adapters/sql/store-thread.js';
import { newId } from '../../src/domain/ids.js';
import type { UserRecord } from '../../src/domain/types.js';
import { AppError } from '../../src/errors.js';
import type { AppendRequest, SearchQuery } from '../../src/ports.js';

const isUnavailable = (e: unknown) => e instanceof AppError && e.code === 'unavailable';

async function user(store: ThreadedStore, name: string): Promise<UserRecord> {
  const u: UserRecord = { id: newId(), username: `${name}_${newId().slice(0, 6)}`.toLowerCase(), displayName: name, passwordHash: 'scrypt$x', createdAt: Date.now() };
  await store.createUser(u);
  return u;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within 20 s: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('SQLite store threads', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'parley-threads-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('an overdue search is stopped inside its statement, and the same search thread answers the next one', async () => {
    const store = openThreadedSqliteStore(path.join(dir, 'overdue.db'), { maxQueued: 100, searchStallMs: 60_000 });
    try {
      await store.migrate();
      const [owner, searcher] = [await user(store, 'owner'), await user(store, 'searcher')];
      const mine = (await store.createRoom({ id: newId(), name: 'mine', visibility: 'private', topic: '', createdAt: Date.now() }, searcher.id)).room.id;
      await store.append([{ kind: 'message', roomId: mine, userId: searcher.id, id: newId(), body: 'an old answer', clientMsgId: null, at: Date.now() }]);
      // 100,000 newer matches in a room the searcher is not in: each one is a candidate to skip.
      const theirs = (await store.createRoom({ id: newId(), name: 'theirs', visibility: 'public', topic: '', createdAt: Date.now() }, owner.id)).room.id;
      for (let b = 0; b < 20; b++) {
        const batch: AppendRequest[] = Array.from({ length: 5_000 }, (_, i) => ({ kind: 'message', roomId: theirs, userId: owner.id, id: newId(), body: `another line ${b} ${i}`, clientMsgId: null, at: Date.now() }));
        await store.append(batch);
      }
      const query = (deadlineAt: number): SearchQuery => ({ userId: searcher.id, terms: ['an'], limit: 20, maxCandidates: 1_000_000, deadlineAt });

      // Unbounded, the walk reaches the old answer past every other match. Timed as the fastest
      // of three (the first starts the thread and reads the index pages; on a busy machine one
      // run may take far longer than the walk does, and a fifth of it would let the walk finish).
      let walkMs = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        const full = await searchIndexed(store, query(Date.now() + 60_000));
        walkMs = Math.min(walkMs, performance.now() - started);
        assert.deepEqual(full.hits.map((h) => h.message.body), ['an old answer']);
      }
      const thread = store.threads().find((t) => t.name === 'search');
      assert.ok(thread?.threadId !== null && thread?.started === 1);

      // With a fifth of that time, the statement is stopped by its deadline check.
      await assert.rejects(searchIndexed(store, query(Date.now() + walkMs / 5)), isUnavailable);
      const again = await searchIndexed(store, { ...query(Date.now() + 60_000), roomId: mine });
      assert.deepEqual(again.hits.map((h) => h.message.body), ['an old answer']);
      assert.deepEqual(store.threads().find((t) => t.name === 'search'), thread, 'the search thread was neither replaced nor left with calls');
    } finally {
      await store.close();
    }
  });

  it('a thread stuck inside SQLite is detached: its calls fail with unavailable, the next calls run on a fresh thread', async () => {
    const file = path.join(dir, 'stuck.db');
    const store = openThreadedSqliteStore(file, { maxQueued: 100, stallMs: 300, searchStallMs: 60_000 });
    // Another connection holds the write lock: the store's next write waits inside SQLite
    // (its busy handler, up to 5 s) and the writer thread answers nothing meanwhile.
    let holder: Sqlite.Database | null = null;
    try {
      await store.migrate();
      const u = await user(store, 'stuck');
      holder = new Sqlite(file);
      holder.exec('BEGIN IMMEDIATE');
      const first = store.threads().find((t) => t.name === 'writer');
      const session = { tokenHash: newId(), userId: u.id, createdAt: Date.now(), expiresAt: Date.now() + 60_000 };
      const blocked = store.createSession(session);
      const queued = store.findUserById(u.id);
      await assert.rejects(blocked, isUnavailable);
      await assert.rejects(queued, isUnavailable);

      // Reads go on at once on a fresh thread (WAL: the lock held elsewhere blocks writers only).
      assert.equal((await store.findUserById(u.id))?.username, u.username);
      await store.ping();
      const now = store.threads().find((t) => t.name === 'writer');
      assert.equal(now?.started, 2);
      assert.notEqual(now?.threadId, first?.threadId);

      // Once the lock is released the stuck thread returns from SQLite and ends.
      holder.exec('ROLLBACK');
      await until(() => store.threads().find((t) => t.name === 'writer')?.detached === 0, 'the detached thread ended');
      await store.createSession({ ...session, tokenHash: newId() });
    } finally {
      holder?.close();
      await store.close();
    }
  });

  it('a call posted before a cancellation is refused unrun; the thread goes on serving', async () => {
    const file = path.join(dir, 'cancel.db');
    const store = openThreadedSqliteStore(file, { maxQueued: 100, searchStallMs: 60_000 });
    await store.migrate();
    await store.close();
    const thread = new StoreThread({ name: 'search', file, readonly: true, maxQueued: 10, stallMs: 60_000 });
    try {
      const posted = thread.call('ping', []);
      thread.cancelAll();
      await assert.rejects(posted, (e: unknown) => isUnavailable(e) && /cancelled/.test((e as Error).message));
      await thread.call('ping', []);
      assert.equal(thread.stats().started, 1);
    } finally {
      await thread.close();
    }
  });

  it('a stream append is served before the calls waiting beside it, appends in their order, and the others not starved', async () => {
    const store = openThreadedSqliteStore(path.join(dir, 'urgent.db'), { maxQueued: 1_000, searchStallMs: 60_000 });
    try {
      await store.migrate();
      const sender = await user(store, 'sender');
      const roomId = (await store.createRoom({ id: newId(), name: 'urgent', visibility: 'private', topic: '', createdAt: Date.now() }, sender.id)).room.id;
      const answered: string[] = [];
      const track = (name: string, call: Promise<unknown>) => call.then(() => answered.push(name));
      const message = (body: string): AppendRequest => ({ kind: 'message', roomId, userId: sender.id, id: newId(), body, clientMsgId: null, at: Date.now() });
      // Made in one task, so the thread receives them together: 30 reads, then an append.
      const calls = [...Array.from({ length: 30 }, (_, i) => track(`read${i}`, store.findRoom(roomId))), track('append', store.append([message('first')]))];
      await Promise.all(calls);
      assert.equal(answered[0], 'append', `the append waited behind reads posted before it: ${answered.join(' ')}`);
      assert.deepEqual(answered.slice(1), Array.from({ length: 30 }, (_, i) => `read${i}`), 'the other calls keep their order');

      // Twenty appends and a read: the appends keep their order (their seqs), and the read runs
      // after a streak of them, not after all twenty.
      answered.length = 0;
      const read = track('read', store.readEvents(roomId, 0, 100));
      const appends = Array.from({ length: 20 }, (_, i) => store.append([message(`m${i}`)]).then((outcomes) => { answered.push(`m${i}`); return outcomes; }));
      const outcomes = (await Promise.all(appends)).map((o) => {
        assert.equal(o[0]?.status, 'appended');
        return o[0]?.status === 'appended' ? o[0].event.seq : -1;
      });
      await read;
      assert.deepEqual(outcomes, [...outcomes].sort((a, b) => a - b), 'appends commit in the order they were made');
      const readAt = answered.indexOf('read');
      assert.ok(readAt > 0 && readAt < 20, `the read ran after a streak of appends, not after all of them: ${answered.join(' ')}`);
      const events = await store.readEvents(roomId, 0, 100);
      assert.deepEqual(events.filter((e) => e.kind === 'message').map((e) => e.message?.body), ['first', ...Array.from({ length: 20 }, (_, i) => `m${i}`)]);
    } finally {
      await store.close();
    }
  });

  it('past maxQueued calls are refused at once with unavailable', async () => {
    const file = path.join(dir, 'queue.db');
    const store = openThreadedSqliteStore(file, { maxQueued: 3, searchStallMs: 60_000 });
    try {
      await store.migrate();
      const calls = Array.from({ length: 5 }, () => store.ping().then(() => 'ok', (e: unknown) => (isUnavailable(e) ? 'refused' : String(e))));
      assert.deepEqual(await Promise.all(calls), ['ok', 'ok', 'ok', 'refused', 'refused']);
      await store.ping();
    } finally {
      await store.close();
    }
  });
});
