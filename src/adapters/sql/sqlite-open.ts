/**
 * Opening an existing SQLite file only to read it (the doctor, a backup's source, a copy's
 * source), leaving nothing behind. A read-only connection to a database in WAL mode makes its
 * `-wal` and `-shm` files when no other process has, and cannot remove them when it closes:
 * they stay, owned by whoever ran the command (root, say), and may keep the node's own user
 * out. A read-write connection that writes nothing removes them itself when it is the last to
 * close. So read-write first; read-only only where the file or its directory is not writable.
 */
import Sqlite from 'better-sqlite3';

const READ_ONLY_CODES = new Set(['SQLITE_READONLY', 'SQLITE_CANTOPEN', 'SQLITE_PERM', 'SQLITE_AUTH']);

export function openToRead(file: string, timeoutMs = 5_000): Sqlite.Database {
  try {
    return new Sqlite(file, { fileMustExist: true, timeout: timeoutMs });
  } catch (error) {
    if (!READ_ONLY_CODES.has((error as { code?: string }).code ?? '')) throw error;
    return new Sqlite(file, { readonly: true, fileMustExist: true, timeout: timeoutMs });
  }
}
