import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { queryPlanSuite } from '../contracts/query-plans.contract.js';
import { QueryRecorder, sqliteExplain } from '../support/query-plans.js';

queryPlanSuite('SQLite', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-plans-'));
  const file = path.join(dir, 'parley.db');
  const recorder = new QueryRecorder();
  const store = openSqliteStore(file, { onQuery: recorder.observe });
  // Opened once the store has created the file (in migrate): the plans are asked on a
  // connection of their own, to the same database.
  let raw: Sqlite.Database | null = null;
  const connection = (): Sqlite.Database => {
    raw ??= new Sqlite(file);
    return raw;
  };
  return {
    dialect: 'sqlite',
    store,
    recorder,
    explain: (query) => sqliteExplain(connection())(query),
    exec: async (sql) => {
      connection().exec(sql);
    },
    // The server never runs ANALYZE on SQLite: the plans must hold without statistics.
    analyze: async () => undefined,
    cleanup: async () => {
      raw?.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
