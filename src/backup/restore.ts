/**
 * `parley restore`: puts a backup (backup.ts) back in place of an embedded deployment's data.
 *
 * - The backup is verified before anything is touched: its manifest, the database's SHA-256,
 *   SQLite's integrity check, and a schema no newer than this build knows (an older one is
 *   migrated when the node starts).
 * - Every node must be stopped: the database is opened in exclusive mode first, which SQLite
 *   refuses while any process has it open.
 * - What is replaced is kept, not deleted: the database (with its WAL, so that a stale WAL is
 *   never applied to the restored file) and a different key file are renamed aside with the
 *   time of the restore; the operator deletes them once satisfied. Without `force`, a restore
 *   over existing data is refused.
 * - The database is written under a temporary name and renamed into place, so a restore that
 *   stops half-way leaves the old database or the new one, never a mix.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cp, link, mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { MIGRATIONS } from '../adapters/sql/migrations/index.js';
import { type BackupManifest, BackupError, DB_FILE, type EmbeddedPaths, FILES, FORMAT, KEY_FILE, MANIFEST, sha256, sizeOf } from './backup.js';
import { syncDirectory, syncFile, syncTree } from '../adapters/fs/durable.js';

export interface RestoreReport {
  manifest: BackupManifest;
  /** What was renamed aside (the replaced database, WAL and key file). */
  keptAside: string[];
  /** Stored files restored (FILE_STORAGE=fs), or null when the backup has none. */
  files: { count: number; bytes: number } | null;
}

export async function verifyBackup(source: string): Promise<BackupManifest> {
  const manifestFile = path.join(source, MANIFEST);
  if (!existsSync(manifestFile)) throw new BackupError(`${source} is not a backup: it has no ${MANIFEST}`);
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as BackupManifest;
  } catch (error) {
    throw new BackupError(`${manifestFile} cannot be read: ${(error as Error).message}`);
  }
  if (manifest?.format !== FORMAT) throw new BackupError(`${source} has backup format ${String(manifest?.format)}; this version reads format ${FORMAT}`);
  if (typeof manifest.database?.sha256 !== 'string' || typeof manifest.secretKey !== 'boolean') throw new BackupError(`${manifestFile} is incomplete: it does not say what the backup holds`);
  const db = path.join(source, DB_FILE);
  if (!existsSync(db)) throw new BackupError(`${source} has no ${DB_FILE}`);
  const digest = await sha256(db);
  if (digest !== manifest.database.sha256) throw new BackupError(`${db} is not the file the backup made (SHA-256 ${digest}, the manifest says ${manifest.database.sha256})`);
  // Read-only: the check writes nothing into the backup (a single file, not in WAL mode). The
  // schema version is the database's own, not the manifest's word for it.
  let schemaVersion: number;
  const copy = new Sqlite(db, { readonly: true, fileMustExist: true });
  try {
    const check = copy.pragma('integrity_check') as { integrity_check: string }[];
    if (check.length !== 1 || check[0]?.integrity_check !== 'ok') throw new BackupError(`${db} fails SQLite's integrity check: ${check.map((r) => r.integrity_check).join('; ')}`);
    schemaVersion = Number((copy.prepare('SELECT max(version) AS v FROM parley_migrations').get() as { v: number | null }).v ?? 0);
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new BackupError(`${db} cannot be read as a Parley database: ${(error as Error).message}`);
  } finally {
    copy.close();
  }
  const latest = Math.max(...MIGRATIONS.map((m) => m.version));
  if (schemaVersion > latest) throw new BackupError(`the backup's schema (version ${schemaVersion}) is newer than this version of Parley knows (${latest}): restore it with the version that made it`);
  if (manifest.secretKey && !existsSync(path.join(source, KEY_FILE))) throw new BackupError(`${source} should hold ${KEY_FILE} and does not`);
  return manifest;
}

export async function restore(source: string, paths: EmbeddedPaths, options: { force: boolean }): Promise<RestoreReport> {
  const manifest = await verifyBackup(source);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const keptAside: string[] = [];
  await mkdir(path.dirname(paths.dbFile), { recursive: true });
  // What is there, the database's WAL and shared-memory files included even without the
  // database: a WAL left behind would be applied to the restored file when it is next opened.
  const present = ['', '-wal', '-shm'].filter((suffix) => existsSync(`${paths.dbFile}${suffix}`));
  if (present.length > 0 && !options.force) throw new BackupError(`${paths.dbFile}${present[0]} exists: stop every node, then restore with --force (what it replaces is kept beside it)`);

  // The backup is copied beside the database and made durable first, so that the database is
  // swapped in by one rename: a restore stopped before it leaves the old database in place, one
  // stopped after it the new one.
  const incoming = `${paths.dbFile}.restoring-${process.pid}`;
  try {
    await cp(path.join(source, DB_FILE), incoming);
    await syncFile(incoming);
    // Checked last, just before the swap: no process may have the database open.
    if (present.includes('')) assertNotInUse(paths.dbFile);
    for (const suffix of present) {
      const file = `${paths.dbFile}${suffix}`;
      if (!existsSync(file)) continue; // the lock check's connection checkpointed and removed it
      const aside = `${paths.dbFile}.replaced-${stamp}${suffix}`;
      // The database itself stays in place (linked aside) until the rename replaces it.
      if (suffix === '') await link(file, aside);
      else await rename(file, aside);
      keptAside.push(aside);
    }
    await rename(incoming, paths.dbFile);
  } finally {
    await rm(incoming, { force: true });
  }
  await syncDirectory(path.dirname(paths.dbFile));

  if (manifest.secretKey) {
    const key = path.join(source, KEY_FILE);
    const same = existsSync(paths.keyFile) && readFileSync(paths.keyFile).equals(readFileSync(key));
    if (!same) {
      if (existsSync(paths.keyFile)) {
        const aside = `${paths.keyFile}.replaced-${stamp}`;
        await rename(paths.keyFile, aside);
        keptAside.push(aside);
      }
      await cp(key, paths.keyFile);
      await syncFile(paths.keyFile);
      await syncDirectory(path.dirname(paths.keyFile));
    }
  }

  let files: RestoreReport['files'] = null;
  const backedUpFiles = path.join(source, FILES);
  if (paths.filesDir !== null && existsSync(backedUpFiles)) {
    // Stored files are immutable under their keys: copied over what is there, nothing removed.
    await mkdir(paths.filesDir, { recursive: true });
    await cp(backedUpFiles, paths.filesDir, { recursive: true, preserveTimestamps: true, force: true });
    await syncTree(paths.filesDir);
    files = await sizeOf(backedUpFiles);
  }
  return { manifest, keptAside, files };
}

/** Throws unless no process has the database open (SQLite refuses an exclusive lock then). */
function assertNotInUse(file: string): void {
  let db: Sqlite.Database;
  try {
    db = new Sqlite(file, { fileMustExist: true, timeout: 0 });
  } catch (error) {
    throw new BackupError(`${file} cannot be opened to check that no node uses it: ${(error as Error).message}`);
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
  } catch (error) {
    if ((error as { code?: string }).code === 'SQLITE_BUSY') throw new BackupError(`${file} is open in another process: stop every node before restoring`);
    throw new BackupError(`${file} cannot be checked (${(error as Error).message}): move it away by hand if it is not a database`);
  } finally {
    db.close();
  }
}
