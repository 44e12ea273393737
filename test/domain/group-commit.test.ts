/**
 * Group commit against real stores: one request the store refuses must not take the others of
 * its batch down with it, and an outage fails the batch at once without splitting it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { openThreadedSqliteStore } from '../../src/adapters/sql/sqlite-thread.js';
import { GroupCommitter } from '../../src/domain/group-commit.js';
import { newId } from '../../src/domain/ids.js';
import { AppError } from '../../src/errors.js';
import type { AppendOutcome, AppendRequest, Store } from '../../src/ports.js';
import { createTestDatabase, requirePostgres } from '../support/postgres.js';

/** Counts the transactions the committer asks for. */
function counting(store: Store): { store: Store; appends: () => number } {
  let appends = 0;
  return {
    store: new Proxy(store, {
      get(target, property, receiver) {
        if (property === 'append') {
          return (requests: AppendRequest[]) => {
            appends++;
            return target.append(requests);
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }),
    appends: () => appends,
  };
}

async function seed(store: Store): Promise<{ roomId: string; userId: string }> {
  await store.migrate();
  const userId = newId();
  await store.createUser({ id: userId, username: `gc${userId.slice(0, 8).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`, displayName: 'gc', passwordHash: 'x', createdAt: Date.now() });
  const { room } = await store.createRoom({ id: newId(), name: 'gc', visibility: 'public', topic: '', createdAt: Date.now() }, userId);
  return { roomId: room.id, userId };
}

async function poisonedBatch(store: Store, roomId: string, userId: string) {
  const { store: counted, appends } = counting(store);
  const committer = new GroupCommitter(counted, { maxBatch: 100, maxQueue: 1_000, onCommitted: () => undefined, onError: () => undefined });
  const bodies = Array.from({ length: 30 }, (_, i) => (i === 17 ? 'poison' : `fine ${i}`));
  // Queued in one turn: they share the first transaction.
  const settled = await Promise.allSettled(bodies.map((body) => committer.append({ kind: 'message', roomId, userId, id: newId(), body, clientMsgId: null, at: Date.now() })));
  return { settled, bodies, transactions: appends() };
}

function checkIsolated(result: Awaited<ReturnType<typeof poisonedBatch>>): void {
  const { settled, bodies } = result;
  const poisoned = settled[17];
  assert.equal(poisoned?.status, 'rejected');
  assert.ok(!(poisoned.reason instanceof AppError && poisoned.reason.code === 'unavailable'), 'the culprit is not told to retry');
  const seqs: number[] = [];
  settled.forEach((s, i) => {
    if (i === 17) return;
    assert.equal(s.status, 'fulfilled', `innocent send ${i} failed: ${s.status === 'rejected' ? String(s.reason) : ''}`);
    const outcome = (s as PromiseFulfilledResult<AppendOutcome>).value;
    assert.equal(outcome.status, 'appended');
    if (outcome.status === 'appended') {
      assert.equal(outcome.event.message?.body, bodies[i]);
      seqs.push(outcome.event.seq);
    }
  });
  // In request order, gapless after the room's first event.
  assert.deepEqual(seqs, Array.from({ length: 29 }, (_, i) => i + 2));
  // Split by halves: a handful of transactions, not one per request.
  assert.ok(result.transactions <= 2 * Math.ceil(Math.log2(30)) + 1, `${result.transactions} transactions`);
}

const withPostgres = await requirePostgres('group commit on PostgreSQL');

describe('group commit isolates a failing request', () => {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('regression: on SQLite, one request the store refuses fails alone; the rest of its batch commits in order', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-gc-'));
    dirs.push(dir);
    const file = path.join(dir, 'parley.db');
    const store = openSqliteStore(file);
    const { roomId, userId } = await seed(store);
    const raw = new Sqlite(file);
    raw.exec(`CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.body = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned body'); END`);
    raw.close();
    checkIsolated(await poisonedBatch(store, roomId, userId));
    await store.close();
  });

  it('an outage fails the whole batch with unavailable, without splitting it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-gc-'));
    dirs.push(dir);
    const store = openThreadedSqliteStore(path.join(dir, 'parley.db'), { maxQueued: 10_000, searchStallMs: 30_000 });
    const { roomId, userId } = await seed(store);
    await store.close();
    const { store: counted, appends } = counting(store);
    const committer = new GroupCommitter(counted, { maxBatch: 100, maxQueue: 1_000, onCommitted: () => undefined, onError: () => undefined });
    const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => committer.append({ kind: 'message', roomId, userId, id: newId(), body: `m${i}`, clientMsgId: null, at: Date.now() })));
    assert.ok(settled.every((s) => s.status === 'rejected' && s.reason instanceof AppError && s.reason.code === 'unavailable'));
    assert.equal(appends(), 1);
  });

  if (withPostgres) {
    it('regression: on PostgreSQL, one request the store refuses fails alone; the rest of its batch commits in order', async () => {
      const db = await createTestDatabase();
      const store = openPostgresStore(db.url, { poolSize: 2, statementTimeoutMs: 5_000 });
      try {
        const { roomId, userId } = await seed(store);
        const client = new pg.Client({ connectionString: db.url, user: 'postgres' });
        await client.connect();
        await client.query(`CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN IF NEW.body = 'poison' THEN RAISE EXCEPTION 'poisoned body'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql`);
        await client.query('CREATE TRIGGER poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION poison()');
        await client.end();
        checkIsolated(await poisonedBatch(store, roomId, userId));
      } finally {
        await store.close();
        await db.drop();
      }
    });
  }
});
