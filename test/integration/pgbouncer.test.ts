/**
 * Parley on PostgreSQL through a PgBouncer in transaction mode (DATABASE_POOLER=pgbouncer):
 * sends from many clients at once stay gapless and ordered, history and search answer, migrations
 * run whatever statement_timeout the database sets; and a node pointed at the bouncer without the setting stops at start with what to set, instead of
 * answering 503 for ever.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import { type Bouncer, PGBOUNCER, startPgbouncer } from '../support/pgbouncer.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { api, createRoom, registerUser, searchFresh, startTestServer, type TestServer } from '../support/server.js';
import { requireBinary } from '../support/services.js';

if ((await requirePostgres('Parley behind PgBouncer')) && requireBinary(PGBOUNCER, 'pgbouncer', 'Parley behind PgBouncer')) {
  describe('Parley behind PgBouncer (transaction mode)', () => {
    let bouncer: Bouncer;
    let db: TestDatabase;
    let server: TestServer;

    before(async () => {
      bouncer = await startPgbouncer({ poolSize: 2 });
      db = await createTestDatabase();
      server = await startTestServer({ DATABASE_URL: bouncer.via(db.url), DATABASE_POOLER: 'pgbouncer', DATABASE_POOL_SIZE: 8, SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000 });
    });

    after(async () => {
      await server?.stop();
      await bouncer?.stop();
      await db?.drop();
    });

    it('takes concurrent sends gapless and in order, and answers history and search', async () => {
      const users = await Promise.all(['pba', 'pbb', 'pbc', 'pbd'].map((name) => registerUser(server.url, name)));
      const [owner] = users;
      assert.ok(owner !== undefined);
      const roomId = await createRoom(server.url, owner, 'public', 'bounced');
      for (const u of users.slice(1)) assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: u.token })).status, 200);
      const sent = await Promise.all(
        users.flatMap((u, i) =>
          Array.from({ length: 25 }, (_, n) => api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: u.token, body: { body: `pelican ${i}-${n}` } })),
        ),
      );
      assert.ok(
        sent.every((r) => r.status === 201),
        JSON.stringify(sent.find((r) => r.status !== 201)?.body),
      );
      const seqs = sent.map((r) => (r.body.message as { seq: number }).seq).sort((a, b) => a - b);
      const first = seqs[0] ?? 0;
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => first + i),
        'one seq each, no gap',
      );
      const history = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?limit=100`, { token: owner.token });
      assert.equal(history.status, 200);
      assert.equal((history.body.messages as unknown[]).length, 100);
      const found = await searchFresh(server.url, '/api/v1/search?q=pelican&limit=5', owner.token);
      assert.equal(found.status, 200);
      assert.ok((found.body.hits as unknown[]).length > 0);
    });

    it("migrates under any statement_timeout the role or database sets (behind PgBouncer it applies to every connection)", async () => {
      const strict = await createTestDatabase();
      const admin = new pg.Client({ connectionString: strict.url });
      await admin.connect();
      try {
        await admin.query(`ALTER DATABASE ${pg.escapeIdentifier(new URL(strict.url).pathname.slice(1))} SET statement_timeout = '1ms'`);
      } finally {
        await admin.end();
      }
      const store = openPostgresStore(bouncer.via(strict.url), { poolSize: 2, statementTimeoutMs: 5_000, pooler: 'pgbouncer' });
      try {
        await store.migrate();
      } finally {
        await store.close();
        await strict.drop();
      }
    });

    it('without DATABASE_POOLER=pgbouncer a node stops at start and says what to set', async () => {
      await assert.rejects(
        startTestServer({ DATABASE_URL: bouncer.via(db.url), STARTUP_CONNECT_ATTEMPTS: 1 }),
        (error: unknown) => error instanceof Error && /DATABASE_POOLER=pgbouncer/.test(error.message),
      );
    });
  });
}
