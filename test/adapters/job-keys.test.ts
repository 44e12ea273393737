/**
 * The idempotency keys the SQL store keeps for job backends without a store of their own
 * (RabbitMQ): claim, hold, retention, lapse of a claim whose process died, sweep. On SQLite and
 * on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { StoreWithJobs } from '../../src/adapters/sql/job-store.js';
import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { createTestDatabase, requirePostgres } from '../support/postgres.js';

const HOUR = 3_600_000;
const RETENTION = 24 * HOUR;
const PENDING = 30_000;
const T0 = 1_796_000_000_000;

function keyRules(open: () => Promise<{ store: StoreWithJobs; cleanup(): Promise<void> }>): void {
  const withStore = (fn: (store: StoreWithJobs) => Promise<void>) => async () => {
    const { store, cleanup } = await open();
    try {
      await store.migrate();
      await fn(store);
    } finally {
      await cleanup();
    }
  };

  it(
    'the first claim of a key creates it, pending; others are answered the holder, pending until it is live',
    withStore(async (store) => {
      assert.deepEqual(await store.jobsClaimKey('q', 'k', 'a', T0, RETENTION, PENDING), { id: 'a', created: true, pending: false });
      assert.deepEqual(await store.jobsClaimKey('q', 'k', 'b', T0 + 1, RETENTION, PENDING), { id: 'a', created: false, pending: true });
      await store.jobsSetKeys('q', [{ key: 'k', id: 'a' }], 'live', T0 + 2);
      assert.deepEqual(await store.jobsClaimKey('q', 'k', 'b', T0 + 3, RETENTION, PENDING), { id: 'a', created: false, pending: false });
      // A live key is held however long: a delayed or dead job keeps it.
      assert.deepEqual(await store.jobsClaimKey('q', 'k', 'b', T0 + 1_000 * HOUR, RETENTION, PENDING), { id: 'a', created: false, pending: false });
      // Keys are per queue.
      assert.deepEqual(await store.jobsClaimKey('other', 'k', 'c', T0, RETENTION, PENDING), { id: 'c', created: true, pending: false });
    }),
  );

  it(
    'a done key answers for the retention, then is taken over',
    withStore(async (store) => {
      await store.jobsClaimKey('q', 'k', 'a', T0, RETENTION, PENDING);
      await store.jobsSetKeys('q', [{ key: 'k', id: 'a' }], 'live', T0);
      await store.jobsSetKeys('q', [{ key: 'k', id: 'a' }], 'done', T0 + HOUR);
      assert.deepEqual(await store.jobsClaimKey('q', 'k', 'b', T0 + HOUR + RETENTION - 1, RETENTION, PENDING), { id: 'a', created: false, pending: false });
      assert.deepEqual(await store.jobsClaimKey('q', 'k', 'b', T0 + HOUR + RETENTION + 1, RETENTION, PENDING), { id: 'b', created: true, pending: false });
    }),
  );

  it(
    'a released key is free at once; a claim left pending (its process died) lapses',
    withStore(async (store) => {
      await store.jobsClaimKey('q', 'k', 'a', T0, RETENTION, PENDING);
      await store.jobsSetKeys('q', [{ key: 'k', id: 'a' }], 'released', T0);
      assert.deepEqual(await store.jobsClaimKey('q', 'k', 'b', T0 + 1, RETENTION, PENDING), { id: 'b', created: true, pending: false });
      assert.deepEqual(await store.jobsClaimKey('q', 'k', 'c', T0 + 1 + PENDING, RETENTION, PENDING), { id: 'b', created: false, pending: true });
      assert.deepEqual(await store.jobsClaimKey('q', 'k', 'c', T0 + 2 + PENDING, RETENTION, PENDING), { id: 'c', created: true, pending: false });
    }),
  );

  it(
    'an update names the job: a key since taken over by another job is left alone',
    withStore(async (store) => {
      await store.jobsClaimKey('q', 'k', 'a', T0, RETENTION, PENDING);
      await store.jobsClaimKey('q', 'k', 'b', T0 + PENDING + 1, RETENTION, PENDING);
      // The first claimer, late: its release and its done must not touch b's claim.
      await store.jobsSetKeys('q', [{ key: 'k', id: 'a' }], 'released', T0 + PENDING + 2);
      await store.jobsSetKeys('q', [{ key: 'k', id: 'a' }], 'done', T0 + PENDING + 2);
      assert.deepEqual(await store.jobsClaimKey('q', 'k', 'c', T0 + PENDING + 3, RETENTION, PENDING), { id: 'b', created: false, pending: true });
      await store.jobsSetKeys('q', [], 'released', T0);
    }),
  );

  it(
    'updates many keys in one call',
    withStore(async (store) => {
      const keys = Array.from({ length: 600 }, (_, i) => ({ key: `k${i}`, id: `j${i}` }));
      for (const { key, id } of keys) await store.jobsClaimKey('q', key, id, T0, RETENTION, PENDING);
      await store.jobsSetKeys('q', keys, 'live', T0);
      assert.deepEqual(await store.jobsClaimKey('q', 'k599', 'x', T0 + PENDING + 1, RETENTION, PENDING), { id: 'j599', created: false, pending: false });
      await store.jobsSetKeys('q', keys, 'released', T0);
      assert.deepEqual(await store.jobsClaimKey('q', 'k0', 'x', T0, RETENTION, PENDING), { id: 'x', created: true, pending: false });
    }),
  );

  it(
    'the sweep deletes keys done or left pending before its cutoff, never live ones',
    withStore(async (store) => {
      for (const [key, state] of [
        ['done-old', 'done'],
        ['pending-old', null],
        ['live-old', 'live'],
      ] as const) {
        await store.jobsClaimKey('q', key, key, T0, RETENTION, PENDING);
        if (state !== null) await store.jobsSetKeys('q', [{ key, id: key }], state, T0);
      }
      await store.jobsClaimKey('q', 'done-new', 'done-new', T0 + HOUR, RETENTION, PENDING);
      await store.jobsSetKeys('q', [{ key: 'done-new', id: 'done-new' }], 'done', T0 + 2 * HOUR);
      assert.equal(await store.jobsSweep(T0 + HOUR, 1_000), 2);
      assert.equal(await store.jobsSweep(T0 + HOUR, 1_000), 0);
      const holder = async (key: string) => (await store.jobsClaimKey('q', key, 'probe', T0 + 2 * HOUR, RETENTION, PENDING)).id;
      assert.equal(await holder('live-old'), 'live-old');
      assert.equal(await holder('done-new'), 'done-new');
      assert.equal(await holder('done-old'), 'probe');
    }),
  );
}

describe('job keys in the SQL store: SQLite', () => {
  keyRules(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-job-keys-'));
    const store = openSqliteStore(path.join(dir, 'parley.db'));
    return {
      store,
      cleanup: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
});

if (await requirePostgres('job keys in the SQL store')) {
  describe('job keys in the SQL store: PostgreSQL', () => {
    keyRules(async () => {
      const db = await createTestDatabase();
      const store = openPostgresStore(db.url, { poolSize: 2, statementTimeoutMs: 10_000 });
      return {
        store,
        cleanup: async () => {
          await store.close();
          await db.drop();
        },
      };
    });
  });
}
