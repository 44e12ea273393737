/**
 * A PostgreSQL 15 cluster of a test's own, for tests that stop or restart the server (the shared
 * one must never be). initdb into a temporary directory, on a free port, owned by the postgres
 * user when the tests run as root (PostgreSQL refuses to run as root); always removed by stop().
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, requireBinary } from './services.js';

const run = promisify(execFile);
const BIN = ['/usr/lib/postgresql/15/bin'].find((dir) => existsSync(path.join(dir, 'pg_ctl')));

/** True when the binaries are here; otherwise a skipped (in CI, failing) test says so. */
export function requirePostgresBinaries(suite: string): boolean {
  return requireBinary(BIN, 'PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin)', suite);
}

export interface PostgresCluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** `pg_ctl restart -m <mode>`: returns once the server accepts connections again. */
  restart(mode: 'smart' | 'fast' | 'immediate'): Promise<void>;
  /** `pg_ctl stop -m fast`: the server is down (connections refused) until `start()`. */
  halt(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server at once and removes its files; safe to call twice. */
  stop(): Promise<void>;
  /** The server's own log, for diagnosis. */
  logFile: string;
  /** The data directory (postmaster.pid names the server's process). */
  dataDir: string;
}

/**
 * A cluster of a test's own; with `replicaOf`, a hot standby of that cluster: a base backup of
 * it (pg_basebackup -R, WAL streamed during the copy) that streams its changes from then on.
 */
export async function startPostgresCluster(options: { replicaOf?: PostgresCluster } = {}): Promise<PostgresCluster> {
  if (BIN === undefined) throw new Error('PostgreSQL server binaries are not installed');
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? await postgresUser() : null;
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-pg-'));
  if (owner !== null) chownSync(dir, owner.uid, owner.gid);
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const port = await freePort();
  // As the postgres user when we are root; as ourselves otherwise.
  const pg = (binary: string, args: string[]) =>
    run(asRoot ? 'runuser' : path.join(BIN, binary), asRoot ? ['-u', 'postgres', '--', path.join(BIN, binary), ...args] : args, { timeout: 60_000 });
  // The socket lives in the cluster's directory: no clash with the machine's own server.
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=60`;
  const ctl = (...args: string[]) => pg('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', ...args]);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await ctl('stop', '-m', 'immediate').catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const primary = options.replicaOf;
    if (primary === undefined) await pg('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    else await pg('pg_basebackup', ['-D', data, '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-R', '-X', 'stream', '--no-sync', '-c', 'fast']);
    await ctl('-o', serverOptions, 'start');
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    logFile,
    dataDir: data,
    restart: async (mode) => {
      await ctl('-o', serverOptions, '-m', mode, 'restart');
    },
    halt: async () => {
      await ctl('-m', 'fast', 'stop');
    },
    start: async () => {
      await ctl('-o', serverOptions, 'start');
    },
    stop,
  };
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}
