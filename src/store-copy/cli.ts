/**
 * `parley data copy --to <url>` and `parley data verify --to <url>`: moving a deployment's data
 * from the configured store (the embedded SQLite file, or DATABASE_URL) to another, PostgreSQL
 * or SQLite (copy.ts, verify.ts). Progress and the summary are JSON lines on stdout; a refusal
 * is one line on stderr. Exit codes: 0 done and verified, 1 refused or a difference found,
 * 2 misuse.
 */
import path from 'node:path';
import { openPostgresStore } from '../adapters/sql/postgres.js';
import { openSqliteStore } from '../adapters/sql/sqlite.js';
import type { Config } from '../config.js';
import { checkVersions, copyPass, type Emit, LATEST_VERSION } from './copy.js';
import { type DataStore, DataCopyError, describeError, describeLocation, identity, type Location, listTables, openDataStore, parseLocation, refuseNewerTarget } from './stores.js';
import { planCopy } from './tables.js';
import { verify, type VerifyReport } from './verify.js';

const USAGE = 'usage: parley data copy --to <postgres://…|sqlite:/path/parley.db> [--batch N] [--force] | parley data verify --to <url>\n';
const DEFAULT_BATCH = 2_000;

interface Args {
  action: 'copy' | 'verify';
  to: string;
  batch: number;
  /** Copy even onto a target that holds events newer than the source's newest. */
  force: boolean;
}

function parseArgs(args: string[]): Args | string {
  const [action, ...rest] = args;
  if (action !== 'copy' && action !== 'verify') return '';
  let to: string | undefined;
  let batch = DEFAULT_BATCH;
  let force = false;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] as string;
    if (arg === '--force' && action === 'copy') {
      force = true;
      continue;
    }
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = inline ?? rest[++i];
    if (flag === '--to' && value !== undefined) to = value;
    else if (flag === '--batch' && action === 'copy' && value !== undefined && /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 10_000) batch = Number(value);
    else return `unknown or incomplete option ${arg}`;
  }
  if (to === undefined) return '--to is required';
  return { action, to, batch, force };
}

function sourceOf(config: Config): Location {
  return config.DATABASE_URL !== '' ? { kind: 'postgres', url: config.DATABASE_URL } : { kind: 'sqlite', file: path.join(config.DATA_DIR, 'parley.db') };
}

/** Brings the target's schema to this build's version, with the store's own migrations. */
async function migrateTarget(at: Location): Promise<void> {
  const store = at.kind === 'postgres' ? openPostgresStore(at.url, { poolSize: 1, statementTimeoutMs: 60_000 }) : openSqliteStore(at.file);
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
}

function report(emit: Emit, result: VerifyReport): void {
  for (const difference of result.differences) emit({ difference });
}

export async function runDataCommand(args: string[], config: Config, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const parsed = parseArgs(args);
  const command = `parley data ${args[0] ?? ''}`.trim();
  if (typeof parsed === 'string') {
    process.stderr.write(parsed === '' ? USAGE : `${command}: ${parsed}\n${USAGE}`);
    return 2;
  }
  if (config.DATABASE_SHARD_URLS.length > 0) {
    process.stderr.write(`${command}: DATABASE_SHARD_URLS is set: a sharded deployment is copied with PostgreSQL's own tools (docs/operations.md, "Backups")\n`);
    return 2;
  }
  const to = parseLocation(parsed.to);
  if (to === null) {
    // Not echoed: it may hold a password.
    process.stderr.write(`${command}: --to must be postgres://user@host:5432/database or sqlite:/path/parley.db (a password is better given in PGPASSWORD than in the URL)\n`);
    return 2;
  }
  const from = sourceOf(config);
  if (describeLocation(from) === describeLocation(to) || (from.kind === 'sqlite' && to.kind === 'sqlite' && path.resolve(from.file) === path.resolve(to.file))) {
    process.stderr.write(`${command}: the target is the source (${describeLocation(from)})\n`);
    return 2;
  }
  const emit: Emit = (line) => out(JSON.stringify(line));
  const stores: DataStore[] = [];
  const startedAt = Date.now();
  try {
    const source = await openDataStore(from, { create: false, role: 'source' });
    stores.push(source);
    const target = await openDataStore(to, { create: parsed.action === 'copy', role: 'target' });
    stores.push(target);
    // The same database under two names (localhost and 127.0.0.1, PgBouncer's port and the
    // server's): a copy onto itself would delete what was written after its snapshot.
    if ((await identity(source)) === (await identity(target))) {
      process.stderr.write(`${command}: the target is the source (${source.name} and ${target.name} are one database)\n`);
      return 2;
    }
    const version = await checkVersions(source, target);
    if (parsed.action === 'copy' && !parsed.force) await refuseNewerTarget(source, target);
    emit({ [parsed.action]: 'started', source: source.name, target: target.name, schemaVersion: version });
    if (parsed.action === 'copy') await migrateTarget(to);

    const result = await source.snapshot(async (q) => {
      if (parsed.action === 'verify') {
        const plans = await planCopy({ q, kind: source.kind, tables: await listTables(q, source.kind) }, { q: target.db, kind: target.kind, tables: await listTables(target.db, target.kind) });
        return { counts: null, verified: await verify({ q, kind: source.kind }, { q: target.db, kind: target.kind }, plans) };
      }
      const { plans, counts } = await copyPass(q, source, target, { batch: parsed.batch, emit });
      return { counts, verified: await verify({ q, kind: source.kind }, { q: target.db, kind: target.kind }, plans) };
    });

    report(emit, result.verified);
    const ms = Date.now() - startedAt;
    const summary: Record<string, unknown> = { summary: parsed.action, source: source.name, target: target.name, schemaVersion: LATEST_VERSION, ms };
    if (result.counts !== null) {
      const tables = Object.fromEntries(result.counts);
      const total = (field: 'read' | 'inserted' | 'updated' | 'deleted') => [...result.counts.values()].reduce((sum, c) => sum + c[field], 0);
      Object.assign(summary, { read: total('read'), inserted: total('inserted'), updated: total('updated'), deleted: total('deleted'), rowsPerSec: Math.round((total('read') * 1000) / Math.max(ms, 1)), tables });
    }
    Object.assign(summary, { verified: result.verified.ok, rooms: result.verified.rooms, differences: result.verified.differences.length });
    if (result.counts === null) summary.counts = result.verified.counts;
    emit(summary);
    if (!result.verified.ok) process.stderr.write(`${command}: the target differs from the source in ${result.verified.differences.length} place(s) (the "difference" lines on stdout)\n`);
    return result.verified.ok ? 0 : 1;
  } catch (error) {
    process.stderr.write(`${command}: ${error instanceof DataCopyError ? error.message : `failed: ${describeError(error)}`}\n`);
    return 1;
  } finally {
    for (const store of stores.reverse()) await store.close().catch(() => undefined);
  }
}
