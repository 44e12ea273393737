import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jobQueueContract } from '../contracts/job-queue.contract.js';

jobQueueContract('embedded, SQLite', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-jobs-'));
  return {
    spec: { kind: 'embedded', sqliteFile: path.join(dir, 'parley.db') },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});
