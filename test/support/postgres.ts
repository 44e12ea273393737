/**
 * PostgreSQL for tests: a fresh database per suite, dropped afterwards. The server is the one
 * at PARLEY_TEST_PG_URL (default: the local one). Without it, suites skip with a message on a
 * developer's machine and fail in CI, where it must be there.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';

export const ADMIN_URL = process.env.PARLEY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>, adminUrl = ADMIN_URL): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3_000, query_timeout: 30_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

let available: Promise<string | null> | undefined;

/** null when PostgreSQL answers, else why not. */
function unavailableReason(): Promise<string | null> {
  available ??= withAdmin(async (c) => {
    await c.query('SELECT 1');
    return null;
  }).catch((error: unknown) => `PostgreSQL at ${ADMIN_URL} is not reachable (${(error as Error).message})`);
  return available;
}

/**
 * True when PostgreSQL is there. In CI its absence is a failure; elsewhere it registers one
 * skipped test that says why and returns false.
 */
export async function requirePostgres(suite: string): Promise<boolean> {
  const reason = await unavailableReason();
  if (reason === null) return true;
  if (process.env.CI === 'true') {
    test(`${suite}: PostgreSQL is required in CI`, () => {
      throw new Error(reason);
    });
  } else {
    test(`${suite} (PostgreSQL)`, (t) => t.skip(`${reason}; set PARLEY_TEST_PG_URL to run it`));
  }
  return false;
}

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh database on the server of `adminUrl` (the shared one unless told). */
export async function createTestDatabase(adminUrl = ADMIN_URL): Promise<TestDatabase> {
  const name = `parley_test_${randomBytes(6).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`), adminUrl);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => dropDatabase(name, adminUrl),
  };
}

/** How long a drop waits for the suite's own closed connections to go before it ends what is left. */
const DROP_GRACE_MS = 3_000;

/**
 * Drops the database once its connections are gone. A pool's end() resolves before its
 * connections have closed on the server's side; ending them by force then hands those clients an
 * error ("terminating connection due to administrator command") that nobody listens for any
 * more, thrown as an uncaught exception in whichever test runs then. So the drop waits for them
 * first, and forces only connections still open after the grace: ones a suite left open.
 */
async function dropDatabase(name: string, adminUrl: string): Promise<void> {
  await withAdmin(async (c) => {
    const deadline = Date.now() + DROP_GRACE_MS;
    while (Date.now() < deadline) {
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name}`);
        return;
      } catch (error) {
        // 55006 object_in_use: other sessions are still connected to it.
        if ((error as { code?: string }).code !== '55006') throw error;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }, adminUrl);
}
