/**
 * PostgreSQL, as Parley needs it: reachable, version 13 or later (pg_trgm is a trusted extension
 * from 13 on), durable commits, the schema at this version's, and enough `max_connections` for
 * every pool of every process that will connect.
 */
import pg from 'pg';
import { serverName } from '../adapters/sql/postgres-url.js';
import { MIGRATIONS } from '../adapters/sql/migrations/index.js';
import { type Finding, fix, ok, warn } from './finding.js';

/** Connections some Parley processes open to one database: `processes` × `each`, said as `what` (plural). */
export interface ConnectionPart {
  processes: number;
  each: number;
  what: string;
}

export interface PostgresDemand {
  /** Who opens connections here: the nodes' pools, their replica routing, `parley worker` processes. */
  parts: ConnectionPart[];
  /** DATABASE_POOLER=pgbouncer: connections go to PgBouncer, whose own pool limits the server's. */
  pooled: boolean;
}

const MIN_VERSION = 130_000;

export async function checkPostgres(label: string, url: string, demand: PostgresDemand, timeoutMs: number, withSchema: boolean): Promise<Finding[]> {
  // PgBouncer refuses statement_timeout as a startup parameter; the client's query_timeout bounds each query either way.
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, ...(demand.pooled ? {} : { statement_timeout: timeoutMs }) });
  await client.connect();
  try {
    const findings: Finding[] = [];
    const where = serverName(url);
    const setting = async (name: string) => String((await client.query<{ setting: string }>('SELECT setting FROM pg_settings WHERE name = $1', [name])).rows[0]?.setting ?? '');
    const versionNum = Number(await setting('server_version_num'));
    const version = await setting('server_version');
    findings.push(
      versionNum >= MIN_VERSION
        ? ok(label, `PostgreSQL ${version} at ${where}`)
        : fix(label, `PostgreSQL ${version} at ${where}: Parley needs 13 or later`, 'Upgrade PostgreSQL to 13 or later (15 or later advised).'),
    );

    const synchronous = await setting('synchronous_commit');
    if (synchronous === 'off') {
      findings.push(fix(`${label} synchronous_commit`, 'off: a message acknowledged to its sender can be lost if PostgreSQL crashes', `ALTER SYSTEM SET synchronous_commit = on; SELECT pg_reload_conf(); (or ALTER DATABASE … SET synchronous_commit = on)`));
    } else {
      findings.push(ok(`${label} synchronous_commit`, synchronous));
    }

    const max = Number(await setting('max_connections'));
    const reserved = Number(await setting('superuser_reserved_connections')) + Number((await setting('reserved_connections')) || 0);
    const usable = max - reserved;
    const inUse = Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE backend_type = $1', ['client backend'])).rows[0]?.n ?? 0);
    const parts = demand.parts.filter((p) => p.processes > 0 && p.each > 0);
    const needed = parts.reduce((n, p) => n + p.processes * p.each, 0);
    const sum = parts.map((p) => `${p.processes} × ${p.each} (${p.what})`).join(' + ');
    if (demand.pooled) {
      findings.push(ok(`${label} max_connections`, `${max} (${inUse} in use); through PgBouncer, whose default_pool_size × databases must stay under ${usable}`));
    } else if (needed > usable) {
      findings.push(fix(`${label} max_connections`, `${max} (${reserved} reserved), but ${sum} = ${needed} would be opened`, `Raise max_connections to at least ${needed + reserved + 10} (a restart of PostgreSQL), lower DATABASE_POOL_SIZE, or put PgBouncer in front (DATABASE_POOLER=pgbouncer).`));
    } else if (needed + inUse > usable) {
      findings.push(warn(`${label} max_connections`, `${max} (${reserved} reserved, ${inUse} in use now), and ${sum} = ${needed} more would exceed it while the current clients stay`, `Raise max_connections above ${needed + inUse + reserved}, or check what holds the ${inUse} connections now.`));
    } else {
      findings.push(ok(`${label} max_connections`, `${max}: room for ${sum} = ${needed} (${inUse} in use now)`));
    }

    if (withSchema) findings.push(await schemaFinding(client, label));
    return findings;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function schemaFinding(client: pg.Client, label: string): Promise<Finding> {
  const latest = Math.max(...MIGRATIONS.map((m) => m.version));
  const table = await client.query("SELECT 1 FROM information_schema.tables WHERE table_name = 'parley_migrations' AND table_schema = current_schema()");
  if (table.rowCount === 0) return warn(`${label} schema`, 'empty: no Parley schema yet', 'Run `parley migrate` (a node also migrates when it starts).');
  const at = Number((await client.query<{ v: number | null }>('SELECT max(version) AS v FROM parley_migrations')).rows[0]?.v ?? 0);
  if (at < latest) return warn(`${label} schema`, `version ${at}; this version of Parley brings it to ${latest}`, 'Run `parley migrate` before starting the upgraded nodes.');
  if (at > latest) return warn(`${label} schema`, `version ${at}, newer than this version of Parley knows (${latest})`, 'Normal during a rolling upgrade while the newer migrations are expand steps; a node refuses to start only on one that needs a newer Parley ("Upgrading" in docs/operations.md).');
  return ok(`${label} schema`, `version ${at}, this version's`);
}
