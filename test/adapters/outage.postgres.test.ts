/**
 * The PostgreSQL store when the server goes away: a call in flight fails with `unavailable`
 * (503), never `internal`, and never the process; the pool heals by itself afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { ConnectionMonitor } from '../../src/adapters/outage.js';
import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import { newId } from '../../src/domain/ids.js';
import { AppError } from '../../src/errors.js';
import type { Store } from '../../src/ports.js';
import { freePort } from '../support/services.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { recordUncaught } from '../support/uncaught.js';

/** Records what the store reports, as the OutageLog would log it. */
function recordingMonitor(): ConnectionMonitor & { losses: unknown[]; restorations: number } {
  const monitor = {
    losses: [] as unknown[],
    restorations: 0,
    lost: (error: unknown) => void monitor.losses.push(error),
    restored: () => void monitor.restorations++,
  };
  return monitor;
}

const isUnavailable = (error: unknown): boolean => error instanceof AppError && error.code === 'unavailable' && error.status === 503;

if (await requirePostgres('Store outages')) {
  describe('PostgreSQL store outages', () => {
    let db: TestDatabase;
    let admin: pg.Client;

    before(async () => {
      db = await createTestDatabase();
      admin = new pg.Client({ connectionString: db.url, query_timeout: 10_000 });
      await admin.connect();
      const store = openPostgresStore(db.url, { poolSize: 2, statementTimeoutMs: 10_000 });
      await store.migrate();
      await store.close();
    });
    after(async () => {
      await admin.end();
      await db.drop();
    });

    /** A user and a room owned by them, to append to. */
    async function fixture(store: Store): Promise<{ userId: string; roomId: string }> {
      const userId = newId();
      await store.createUser({ id: userId, username: `u_${userId.slice(0, 10)}`.toLowerCase(), displayName: 'u', passwordHash: 'x', createdAt: Date.now() });
      const roomId = newId();
      await store.createRoom({ id: roomId, name: 'r', visibility: 'public', topic: '', createdAt: Date.now() }, userId);
      return { userId, roomId };
    }

    /** Holds the room's row lock from another session, so an append waits inside its transaction. */
    async function lockRoom(roomId: string): Promise<() => Promise<void>> {
      await admin.query('BEGIN');
      await admin.query('SELECT 1 FROM rooms WHERE id = $1 FOR UPDATE', [roomId]);
      return async () => {
        await admin.query('ROLLBACK');
      };
    }

    /** Resolves once a backend of this database waits for a lock (the append is in its transaction). */
    async function waitForLockWait(): Promise<void> {
      for (let i = 0; i < 200; i++) {
        const { rows } = await admin.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'parley' AND wait_event_type = 'Lock'");
        if (rows[0].n > 0) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error('the append never waited for the row lock');
    }

    it("regression: a connection terminated while checked out (in a transaction) fails the call with unavailable, and no unhandled 'error' ends the process", async () => {
      const monitor = recordingMonitor();
      const store = openPostgresStore(db.url, { poolSize: 2, statementTimeoutMs: 10_000, monitor });
      const uncaught = recordUncaught();
      try {
        const { userId, roomId } = await fixture(store);
        const unlock = await lockRoom(roomId);
        const append = store.append([{ kind: 'message', roomId, userId, id: newId(), body: 'in flight', clientMsgId: 'c1', at: Date.now() }]);
        const settled = append.then(
          () => null,
          (error: unknown) => error,
        );
        await waitForLockWait();
        // The server ends the backend that holds the checked-out client, as a restart would.
        await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'parley'");
        const error = await settled;
        await unlock();
        assert.ok(isUnavailable(error), `expected unavailable, got ${String(error)}`);
        // Let the dead socket's events run out: an unheard 'error' would surface here.
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(uncaught.errors, []);
        assert.ok(monitor.losses.length >= 1, 'the outage was reported');
        // The pool replaced the dead client: the next call works and ends the outage.
        const outcomes = await store.append([{ kind: 'message', roomId, userId, id: newId(), body: 'after', clientMsgId: 'c1', at: Date.now() }]);
        assert.ok(outcomes[0]?.status === 'appended' || outcomes[0]?.status === 'duplicate');
        assert.ok(monitor.restorations >= 1);
      } finally {
        uncaught.stop();
        await store.close();
      }
    });

    it("regression: idle pooled connections terminated by the server raise no unhandled 'error'; the next call reconnects", async () => {
      const monitor = recordingMonitor();
      const store = openPostgresStore(db.url, { poolSize: 2, statementTimeoutMs: 10_000, monitor });
      const uncaught = recordUncaught();
      try {
        // Two connections in the pool, both idle afterwards.
        await Promise.all([store.ping(), store.ping()]);
        await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'parley'");
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(uncaught.errors, []);
        assert.ok(monitor.losses.length >= 1, 'the dead connections were reported');
        await store.ping();
      } finally {
        uncaught.stop();
        await store.close();
      }
    });

    it('a statement cancelled by statement_timeout (57014) is unavailable, not internal', async () => {
      const store = openPostgresStore(db.url, { poolSize: 2, statementTimeoutMs: 300 });
      try {
        const { userId, roomId } = await fixture(store);
        const unlock = await lockRoom(roomId);
        try {
          await assert.rejects(store.append([{ kind: 'message', roomId, userId, id: newId(), body: 'waits', clientMsgId: null, at: Date.now() }]), isUnavailable);
        } finally {
          await unlock();
        }
      } finally {
        await store.close();
      }
    });

    it('a server that refuses connections (ECONNREFUSED) is unavailable, not internal', async () => {
      const url = new URL(db.url);
      url.port = String(await freePort());
      const store = openPostgresStore(url.toString(), { poolSize: 1, statementTimeoutMs: 1_000, connectTimeoutMs: 1_000 });
      try {
        await assert.rejects(store.findUserById('nobody'), isUnavailable);
        await assert.rejects(store.ping(), isUnavailable);
      } finally {
        await store.close();
      }
    });

    it('programming errors stay what they are (answered internal and logged by the transports)', async () => {
      const store = openPostgresStore(db.url, { poolSize: 1, statementTimeoutMs: 1_000 });
      try {
        // A room that does not exist violates the events' foreign key: a bug, not an outage.
        const error = await store
          .append([{ kind: 'message', roomId: 'no-such-room', userId: 'no-such-user', id: newId(), body: 'x', clientMsgId: null, at: Date.now() }])
          .then(() => null, (e: unknown) => e);
        assert.ok(!(error instanceof AppError && error.code === 'unavailable'), `expected no translation, got ${String(error)}`);
      } finally {
        await store.close();
      }
    });
  });
}
