/**
 * `parley backup`: a consistent copy of an embedded deployment, taken while it serves.
 *
 * - The database through SQLite's online backup API, from a connection of its own that writes
 *   nothing (sqlite-open.ts):
 *   in WAL mode a reader never holds the writer back, and each step copies all the pages left
 *   inside one read transaction, so the copy is the database as one
 *   commit left it: every message acknowledged before the backup started, and per room a
 *   gapless prefix of its stream. The copy is checked (`integrity_check`) before it is kept.
 * - The server key file (DATA_DIR/secret.key), without which webhook signing secrets cannot be
 *   read and download links signed before do not verify (absent when SECRET_KEY is set: that
 *   key is the operator's to keep).
 * - The stored files (FILE_STORAGE=fs), copied after the database: a file is written before the
 *   row naming it, so every file the copied rows name exists by then, but one deleted in between
 *   (by retention or its owner), which the restored deployment answers as gone.
 *
 * The backup is a directory, made under a temporary name beside its destination and renamed at
 * the end: a backup directory either is whole or does not exist.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { cp, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { syncDirectory, syncFile, syncTree } from '../adapters/fs/durable.js';
import { openToRead } from '../adapters/sql/sqlite-open.js';

export const FORMAT = 1;
export const DB_FILE = 'parley.db';
export const KEY_FILE = 'secret.key';
export const FILES = 'files';
export const MANIFEST = 'manifest.json';
/** Uploads being received live under the files directory's tmp/: never part of a backup. */
const RECEIVING = 'tmp';

export interface BackupManifest {
  format: number;
  createdAt: string;
  database: { file: string; bytes: number; sha256: string; schemaVersion: number; counts: TableCounts };
  secretKey: boolean;
  files: { count: number; bytes: number } | null;
}

export interface TableCounts {
  users: number;
  rooms: number;
  events: number;
  messages: number;
}

export interface EmbeddedPaths {
  /** DATA_DIR/parley.db */
  dbFile: string;
  /** DATA_DIR/secret.key */
  keyFile: string;
  /** The stored files' directory (FILE_STORAGE=fs), or null when files are kept elsewhere. */
  filesDir: string | null;
}

export class BackupError extends Error {}

export async function backup(paths: EmbeddedPaths, destination: string, options: { files: boolean } = { files: true }): Promise<BackupManifest> {
  if (!existsSync(paths.dbFile)) throw new BackupError(`no database at ${paths.dbFile}: nothing to back up (is DATA_DIR right?)`);
  const target = path.resolve(destination);
  if (existsSync(target)) throw new BackupError(`${target} exists already: a backup goes to a new directory`);
  await mkdir(path.dirname(target), { recursive: true });
  const work = `${target}.partial-${process.pid}`;
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { mode: 0o700 });
  try {
    const database = await copyDatabase(paths.dbFile, path.join(work, DB_FILE));
    let secretKey = false;
    if (existsSync(paths.keyFile)) {
      await cp(paths.keyFile, path.join(work, KEY_FILE));
      secretKey = true;
    }
    let files: BackupManifest['files'] = null;
    if (options.files && paths.filesDir !== null) {
      files = existsSync(paths.filesDir) ? await copyFiles(paths.filesDir, path.join(work, FILES)) : { count: 0, bytes: 0 };
    }
    const manifest: BackupManifest = { format: FORMAT, createdAt: new Date().toISOString(), database, secretKey, files };
    await writeFile(path.join(work, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    // The key, the files and the manifest on the disk too before the rename says the backup is whole.
    await syncTree(work);
    await rename(work, target);
    await syncDirectory(path.dirname(target));
    return manifest;
  } catch (error) {
    await rm(work, { recursive: true, force: true });
    throw error;
  }
}

async function copyDatabase(source: string, copy: string): Promise<BackupManifest['database']> {
  const db = openToRead(source);
  try {
    // Every step copies all the pages left, inside one read transaction: a commit between two
    // steps restarts the copy at most once, and the step after it is whole again.
    await db.backup(copy, { progress: () => 0x7fffffff });
  } finally {
    db.close();
  }
  const copied = new Sqlite(copy, { fileMustExist: true });
  let schemaVersion: number;
  let counts: TableCounts;
  try {
    const check = copied.pragma('integrity_check') as { integrity_check: string }[];
    if (check.length !== 1 || check[0]?.integrity_check !== 'ok') throw new BackupError(`the copy failed its integrity check: ${check.map((r) => r.integrity_check).join('; ')}`);
    schemaVersion = Number((copied.prepare('SELECT max(version) AS v FROM parley_migrations').get() as { v: number | null }).v ?? 0);
    counts = tableCounts(copied);
    // The copy keeps the source's WAL mode: back to a single file, so that it can be hashed and
    // read as it is (a node puts it in WAL mode again when it opens it).
    copied.pragma('journal_mode = DELETE');
  } finally {
    copied.close();
  }
  await rm(`${copy}-wal`, { force: true });
  await rm(`${copy}-shm`, { force: true });
  await syncFile(copy);
  return { file: DB_FILE, bytes: (await stat(copy)).size, sha256: await sha256(copy), schemaVersion, counts };
}

export function tableCounts(db: Sqlite.Database): TableCounts {
  const count = (table: string) => Number((db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
  return { users: count('users'), rooms: count('rooms'), events: count('events'), messages: count('messages') };
}

async function copyFiles(from: string, to: string): Promise<{ count: number; bytes: number }> {
  await cp(from, to, { recursive: true, preserveTimestamps: true, filter: (src) => path.relative(from, src) !== RECEIVING });
  return sizeOf(to);
}

/** Files under `dir` and their bytes. */
export async function sizeOf(dir: string): Promise<{ count: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    count += 1;
    bytes += (await stat(path.join(entry.parentPath, entry.name))).size;
  }
  return { count, bytes };
}

export function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
