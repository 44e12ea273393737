/** SIGUSR2 writes a heap snapshot of the signalled process, which serves on afterwards. */
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readSync, readdirSync, rmSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { FleetNode } from '../support/fleet.js';
import { freePort } from '../support/services.js';

it('SIGUSR2 writes a heap snapshot into HEAP_SNAPSHOT_DIR and the node keeps serving', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-heap-'));
  const snapshots = path.join(dir, 'snapshots');
  const node = new FleetNode(await freePort(), { DATA_DIR: path.join(dir, 'data'), HEAP_SNAPSHOT_DIR: snapshots, LOG_LEVEL: 'warn', SCRYPT_COST: '10' }, 1);
  try {
    await node.start();
    node.signal('SIGUSR2');
    const deadline = Date.now() + 60_000;
    let files: string[] = [];
    // The file appears when writing starts: wait until the log says it is complete.
    while (Date.now() < deadline && !node.output.includes('heap snapshot written')) await new Promise((r) => setTimeout(r, 200));
    files = readdirSync(snapshots).filter((f) => f.endsWith('.heapsnapshot'));
    assert.equal(files.length, 1, `no snapshot written:\n${node.output.slice(-2000)}`);
    assert.match(files[0] as string, new RegExp(`^parley-${node.pid}-`));
    const fd = openSync(path.join(snapshots, files[0] as string), 'r');
    const head = Buffer.alloc(64);
    readSync(fd, head, 0, 64, 0);
    closeSync(fd);
    assert.match(head.toString(), /^\{"snapshot":\{/);
    assert.equal((await fetch(`${node.url}/readyz`)).status, 200);
  } finally {
    await node.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
