/**
 * `parley backup <dir> [--no-files]` and `parley restore <dir> [--force]`: the embedded store's
 * online backup and its restore (backup.ts, restore.ts). With PostgreSQL (DATABASE_URL set) the
 * database's own tools do it; docs/operations.md gives the procedure.
 */
import path from 'node:path';
import { filesDir } from '../adapters/open-object-store.js';
import type { Config } from '../config.js';
import { backup, BackupError, DB_FILE, type EmbeddedPaths, KEY_FILE } from './backup.js';
import { restore } from './restore.js';

const USAGE = 'usage: parley backup <directory> [--no-files] | parley restore <directory> [--force]\n';

export function embeddedPaths(config: Config): EmbeddedPaths {
  return {
    dbFile: path.join(config.DATA_DIR, DB_FILE),
    keyFile: path.join(config.DATA_DIR, KEY_FILE),
    filesDir: config.FILE_STORAGE === 'fs' ? filesDir(config) : null,
  };
}

export async function runBackupCommand(command: 'backup' | 'restore', args: string[], config: Config, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const flags = args.filter((a) => a.startsWith('--'));
  const positional = args.filter((a) => !a.startsWith('--'));
  const allowed = command === 'backup' ? ['--no-files'] : ['--force'];
  const unknown = flags.find((f) => !allowed.includes(f));
  if (positional.length !== 1 || unknown !== undefined) {
    process.stderr.write(unknown === undefined ? USAGE : `parley ${command}: unknown option ${unknown}\n${USAGE}`);
    return 2;
  }
  if (config.DATABASE_URL !== '') {
    process.stderr.write(`parley ${command}: DATABASE_URL is set, so the data is in PostgreSQL: back it up with pg_dump or base backups and WAL archiving (docs/operations.md, "Backups")\n`);
    return 2;
  }
  const dir = positional[0] as string;
  try {
    if (command === 'backup') {
      const manifest = await backup(embeddedPaths(config), dir, { files: !flags.includes('--no-files') });
      out(JSON.stringify({ backup: path.resolve(dir), ...manifest }));
    } else {
      const report = await restore(dir, embeddedPaths(config), { force: flags.includes('--force') });
      out(JSON.stringify({ restored: path.resolve(dir), into: config.DATA_DIR, ...report }));
    }
    return 0;
  } catch (error) {
    if (!(error instanceof BackupError)) throw error;
    process.stderr.write(`parley ${command}: ${error.message}\n`);
    return 1;
  }
}
