/** CPU time of processes and of PostgreSQL servers, from /proc (Linux), for the benchmarks. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { PostgresCluster } from '../test/support/pg-cluster.js';

const TICKS = 100; // clock ticks per second in /proc/<pid>/stat (Linux's USER_HZ)

/** CPU seconds (user + system) of a process, from /proc. */
export function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0; // gone
  }
}

/** CPU seconds of a PostgreSQL server: its postmaster and every process it started. */
export function serverCpu(cluster: PostgresCluster): number {
  const postmaster = Number(readFileSync(path.join(cluster.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  let sum = cpuOf(postmaster);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) sum += cpuOf(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return sum;
}

