/**
 * A node on a schema newer than it knows, as during a rolling upgrade once the new release's
 * migrations ran: it starts when the extra migrations are expand steps, or contract steps that
 * need no newer Parley than it is; it refuses, naming the migration, when one is a contract step
 * that needs a newer Parley. A database of the release before (parley_migrations without
 * requires_known) gets the column, with every migration an expand step. SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { initial } from '../../src/adapters/sql/migrations/001-initial.js';
import { MIGRATIONS } from '../../src/adapters/sql/migrations/index.js';
import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import type { Store } from '../../src/ports.js';
import { createTestDatabase, requirePostgres } from '../support/postgres.js';

const KNOWN = Math.max(...MIGRATIONS.map((m) => m.version));
const PREVIOUS_RELEASE_TABLE = 'CREATE TABLE parley_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)';

interface Rig {
  open(): Store;
  exec(statement: string): Promise<void>;
  rows(): Promise<Array<{ version: number; requires_known: number }>>;
  done(): Promise<void>;
}

async function withStore<T>(rig: Rig, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = rig.open();
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function newerSchema(rig: Rig): Promise<void> {
  await withStore(rig, (store) => store.migrate());
  // A later release's expand step: a table, and its record.
  await rig.exec('CREATE TABLE later_things (id TEXT PRIMARY KEY)');
  await rig.exec(`INSERT INTO parley_migrations (version, name, applied_at, requires_known) VALUES (${KNOWN + 1}, 'later-things', 0, 0)`);
  await withStore(rig, async (store) => {
    await store.migrate();
    await store.ping();
  });
  // Its contract step, removing what only releases before this one read.
  await rig.exec(`INSERT INTO parley_migrations (version, name, applied_at, requires_known) VALUES (${KNOWN + 2}, 'drop-what-older-read', 0, ${KNOWN})`);
  await withStore(rig, (store) => store.migrate());
  // The next one's contract step, removing what this release reads.
  await rig.exec(`INSERT INTO parley_migrations (version, name, applied_at, requires_known) VALUES (${KNOWN + 3}, 'drop-what-we-read', 0, ${KNOWN + 1})`);
  await withStore(rig, async (store) => {
    await assert.rejects(store.migrate(), new RegExp(`at version ${KNOWN + 3}; its migration ${KNOWN + 3} \\(drop-what-we-read\\) removes what this Parley reads, and needs a Parley that knows migration ${KNOWN + 1} \\(this one knows ${KNOWN}\\)`));
  });
}

async function previousRelease(rig: Rig): Promise<void> {
  await rig.exec(PREVIOUS_RELEASE_TABLE);
  await rig.exec(`INSERT INTO parley_migrations (version, name, applied_at) VALUES (1, '${initial.name}', 0)`);
  await withStore(rig, (store) => store.migrate());
  const rows = await rig.rows();
  assert.equal(rows.length, MIGRATIONS.length);
  assert.ok(rows.every((r) => Number(r.requires_known) === 0));
}

const withPostgres = await requirePostgres('a newer schema on PostgreSQL');

describe('a node on a newer schema', () => {
  const sqliteRig = (): Rig => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-newer-'));
    const file = path.join(dir, 'parley.db');
    const raw = new Sqlite(file);
    return {
      open: () => openSqliteStore(file),
      exec: async (statement) => void raw.exec(statement),
      rows: async () => raw.prepare('SELECT version, requires_known FROM parley_migrations').all() as Array<{ version: number; requires_known: number }>,
      done: async () => {
        raw.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  };
  const postgresRig = async (): Promise<Rig> => {
    const db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url, user: 'postgres' });
    await client.connect();
    return {
      open: () => openPostgresStore(db.url, { poolSize: 2, statementTimeoutMs: 10_000 }),
      exec: async (statement) => void (await client.query(statement)),
      rows: async () => (await client.query<{ version: number; requires_known: number }>('SELECT version, requires_known FROM parley_migrations')).rows,
      done: async () => {
        await client.end();
        await db.drop();
      },
    };
  };

  for (const [name, make] of [
    ['SQLite', async () => sqliteRig()],
    ['PostgreSQL', postgresRig],
  ] as const) {
    const skip = name === 'PostgreSQL' && !withPostgres;
    it(`${name}: runs on expand steps and contract steps it is new enough for, refuses one that needs a newer Parley`, { skip }, async () => {
      const rig = await make();
      try {
        await newerSchema(rig);
      } finally {
        await rig.done();
      }
    });

    it(`${name}: a database of the release before gets requires_known, every migration an expand step`, { skip }, async () => {
      const rig = await make();
      try {
        for (const statement of name === 'SQLite' ? initial.sqlite : initial.postgres) await rig.exec(statement);
        await previousRelease(rig);
      } finally {
        await rig.done();
      }
    });
  }
});
