/**
 * Heap snapshots on demand, for finding leaks in a running process: `kill -USR2 <pid>` (a worker's
 * pid in a cluster; `/metrics` and the logs name them) writes `parley-<pid>-<time>.heapsnapshot`
 * into HEAP_SNAPSHOT_DIR, to open in Chrome DevTools (Memory tab). Two snapshots some minutes
 * apart, compared, show what grows.
 *
 * Writing a snapshot stops the process for about a second per 100 MB of heap and needs about
 * twice the heap in memory: take them from one worker at a time, out of the load balancer if
 * it is busy. A signal needs shell access to the machine, so no endpoint exposes this.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import type { Logger } from './log.js';

export function handleHeapSnapshotSignal(dir: string, log: Logger): () => void {
  let writing = false;
  const onSignal = () => {
    if (writing) return;
    writing = true;
    // Off the current turn, so whatever the signal interrupted completes first.
    setImmediate(() => {
      try {
        mkdirSync(dir, { recursive: true });
        const file = path.join(dir, `parley-${process.pid}-${new Date().toISOString().replace(/[:.]/g, '-')}.heapsnapshot`);
        log.warn({ file }, 'writing a heap snapshot (the process pauses meanwhile)');
        const started = Date.now();
        writeHeapSnapshot(file);
        log.warn({ file, ms: Date.now() - started }, 'heap snapshot written');
      } catch (error) {
        log.error({ err: error }, 'heap snapshot failed');
      } finally {
        writing = false;
      }
    });
  };
  process.on('SIGUSR2', onSignal);
  return () => process.off('SIGUSR2', onSignal);
}
