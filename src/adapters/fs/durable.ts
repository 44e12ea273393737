/** Making what was written to a file, or renamed in a directory, reach the disk. */
import { open, readdir } from 'node:fs/promises';
import path from 'node:path';

/** Flushes `file`'s data to the disk. */
export async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename in `dir` durable (the directory entry itself reaches the disk). */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some filesystems (and platforms) refuse to fsync a directory: the rename is still done.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM') throw error;
  } finally {
    await handle.close();
  }
}

/** Flushes every file under `dir`, then every directory's entries (deepest first, `dir` last), to the disk. */
export async function syncTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  for (const entry of entries) if (entry.isFile()) await syncFile(path.join(entry.parentPath, entry.name));
  const dirs = entries.filter((e) => e.isDirectory()).map((e) => path.join(e.parentPath, e.name));
  for (const sub of dirs.sort((a, b) => b.length - a.length)) await syncDirectory(sub);
  await syncDirectory(dir);
}
