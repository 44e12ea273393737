/**
 * The Store contract through a PgBouncer in transaction mode, with fewer server connections
 * than the store's pool holds: consecutive statements of one client land on different server
 * connections, so anything that leaned on session state (a named prepared statement, a session
 * SET, a session advisory lock) would break here.
 */
import { after } from 'node:test';
import { storeContract } from '../contracts/store.contract.js';
import { type Bouncer, PGBOUNCER, startPgbouncer } from '../support/pgbouncer.js';
import { requirePostgres } from '../support/postgres.js';
import { requireBinary } from '../support/services.js';
import { postgresStore } from '../support/store-fixtures.js';

const options = { poolSize: 6, statementTimeoutMs: 10_000, pooler: 'pgbouncer' as const };

if ((await requirePostgres('Store contract behind PgBouncer')) && requireBinary(PGBOUNCER, 'pgbouncer', 'Store contract behind PgBouncer')) {
  let bouncer: Bouncer | undefined;
  after(async () => {
    await bouncer?.stop();
  });
  storeContract('PostgreSQL behind PgBouncer (transaction mode)', async () => {
    bouncer ??= await startPgbouncer({ poolSize: 3 });
    return postgresStore(options, bouncer.via);
  });
}
