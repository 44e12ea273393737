/**
 * This machine, as Parley will use it: the open-file limit against the connections it is to
 * hold, and the directories it writes (the embedded store, stored files) writable with room.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openToRead } from '../adapters/sql/sqlite-open.js';
import { MIGRATIONS } from '../adapters/sql/migrations/index.js';
import { connectionCap, openFileLimit } from '../http/connections.js';
import { type Finding, fix, ok, warn } from './finding.js';

/** Below this much free space on a data directory, a warning. */
const LOW_SPACE_BYTES = 1024 ** 3;

const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(1)} GiB`;

/**
 * `perProcessOption`: HTTP_MAX_CONNECTIONS; `processes`: workers on this machine; `target`: the
 * connections this machine is to hold (`--connections`), or null when not given.
 */
export function checkOpenFiles(perProcessOption: number | 'auto', processes: number, target: number | null, limits?: () => string): Finding {
  const limit = openFileLimit(limits);
  if (limit === null) return ok('open files', 'no limit could be read (or it is unlimited)');
  const perProcess = connectionCap(perProcessOption, limit) ?? limit;
  const held = Math.min(perProcess, limit);
  const machine = held * processes;
  const what = `ulimit -n is ${limit}: each of ${processes} process${processes === 1 ? '' : 'es'} holds at most ${held} connections, ${machine} on this machine`;
  const raise = (needed: number) => `Raise the open-file limit to at least ${needed}: LimitNOFILE=${needed} in the systemd unit (deploy/parley.service), \`ulimit -n ${needed}\` in the shell that starts Parley, or nofile in /etc/security/limits.conf; or run more workers (WORKERS).`;
  if (perProcessOption !== 'auto' && perProcessOption > limit) {
    return fix('open files', `HTTP_MAX_CONNECTIONS is ${perProcessOption} but ulimit -n is ${limit}: a process runs out of file descriptors before it reaches its cap`, raise(Math.ceil(perProcessOption * 1.1) + 128));
  }
  if (target !== null && machine < target) {
    const perProcessNeeded = Math.ceil(target / processes);
    return fix('open files', `${what}, fewer than the ${target} asked for`, raise(perProcessNeeded + Math.max(128, Math.ceil(perProcessNeeded / 9))));
  }
  if (target === null && limit < 4096) return warn('open files', `${what}`, `${raise(65_536)} (pass --connections N to check against a target).`);
  return ok('open files', target === null ? what : `${what}: enough for ${target}`);
}

/**
 * A directory Parley writes: writable (a probe file written and removed) and with room to spare.
 * One that does not exist yet is judged by the nearest directory above it, where it will be made.
 */
export async function checkDirectory(check: string, dir: string): Promise<Finding> {
  let existing = dir;
  while (!existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  const made = existing === dir ? '' : ` (made at the first start, in ${existing})`;
  try {
    const probe = path.join(existing, `.parley-doctor-${randomBytes(4).toString('hex')}`);
    await writeFile(probe, 'ok');
    await rm(probe);
  } catch (error) {
    return fix(check, `${existing} is not writable: ${(error as Error).message}`, `Create ${dir} and give the user Parley runs as write access to it, or point the setting elsewhere.`);
  }
  const fs = await statfs(existing);
  const free = fs.bavail * fs.bsize;
  if (free < LOW_SPACE_BYTES) return warn(check, `${dir}${made}: ${gib(free)} free`, 'Free space or move the directory to a larger disk: SQLite stops accepting writes when the disk is full (sends then fail with 503).');
  return ok(check, `${dir} writable${made}, ${gib(free)} free`);
}

/** The embedded store's file: SQLite's version, the journal mode, and the schema version. */
export function checkSqlite(file: string): Finding[] {
  if (!existsSync(file)) return [ok('store', `embedded SQLite, ${file} (made at the first start)`)];
  // Read without leaving a -wal or -shm file behind (sqlite-open.ts).
  const db = openToRead(file, 2_000);
  try {
    const version = (db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    const findings: Finding[] = [ok('store', `embedded SQLite ${version}, ${file}`)];
    const latest = Math.max(...MIGRATIONS.map((m) => m.version));
    const hasSchema = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'parley_migrations'").get() !== undefined;
    if (!hasSchema) {
      findings.push(ok('store schema', 'empty: made at the first start'));
    } else {
      const at = Number((db.prepare('SELECT max(version) AS v FROM parley_migrations').get() as { v: number | null }).v ?? 0);
      if (at < latest) findings.push(warn('store schema', `version ${at}; this version of Parley brings it to ${latest}`, 'Nothing to do by hand: the node migrates when it starts (`parley migrate` does it now). Take a backup first (`parley backup`).'));
      else if (at > latest) findings.push(warn('store schema', `version ${at}, newer than this version of Parley knows (${latest})`, 'Normal during a rolling upgrade while the newer migrations are expand steps; a node refuses to start only on one that needs a newer Parley ("Upgrading" in docs/operations.md).'));
      else findings.push(ok('store schema', `version ${at}, this version's`));
    }
    return findings;
  } finally {
    db.close();
  }
}
