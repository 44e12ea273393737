/**
 * Runs every benchmark of docs/benchmarks.md, one after the other, then renders the document.
 *
 *   npm run bench:all
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const FANOUT = ['--clients', '1000', '--senders', '10', '--rate', '1000', '--duration', '10', '--agents', '3'];
const ROOMS = ['--clients', '1000', '--rate', '20000', '--duration', '10', '--agents', '3'];
// 20,000 clients in one room (two processes each: one holds at most ~20,000 sockets here), all
// dropped at once and back over a 2 s jittered wait, while 10 messages/s go on.
const STORM = ['--clients', '20000', '--senders', '10', '--rate', '10', '--duration', '15', '--agents', '4', '--workers', '2', '--jitter-ms', '2000'];
// 10 sends/s (10,000 deliveries/s), doubled per step until p99 passes 1 s or sends go unanswered.
const RAMP = ['--clients', '1000', '--senders', '10', '--rate', '10', '--steps', '8', '--duration', '4', '--agents', '3'];
const RUNS: string[][] = [
  // One process holds at most ~20,000 sockets here (the open-file limit): 15,000 side by side,
  // then 30,000 on one machine with two workers, and 100,000 with six (the room's subscribers
  // asking for batched presence, as clients of a room that size should).
  ['idle', '--target', 'parley', '--clients', '15000', '--agents', '4'],
  ['idle', '--target', 'socketio', '--clients', '15000', '--agents', '4'],
  ['idle', '--target', 'parley', '--workers', '2', '--clients', '30000', '--agents', '4'],
  ['idle', '--target', 'parley', '--workers', '6', '--clients', '100000', '--agents', '8', '--presence', 'batch'],
  ['fanout', '--target', 'parley', ...FANOUT],
  ['fanout', '--target', 'parley', '--workers', '2', ...FANOUT],
  ['fanout', '--target', 'parley', '--store', 'postgres', '--redis', '--workers', '2', ...FANOUT],
  ['fanout', '--target', 'socketio', ...FANOUT],
  ['fanout', '--target', 'socketio-recovery', ...FANOUT],
  ['rooms', '--target', 'parley', '--store', 'sqlite', ...ROOMS],
  ['rooms', '--target', 'parley', '--store', 'postgres', ...ROOMS],
  ['rooms', '--target', 'parley', '--store', 'postgres', '--redis', '--workers', '2', ...ROOMS],
  ['rooms', '--target', 'socketio', ...ROOMS],
  ['storm', '--target', 'parley', ...STORM],
  ['storm', '--target', 'socketio', ...STORM],
  ['storm', '--target', 'socketio-recovery', ...STORM],
  ['ramp', '--target', 'parley', ...RAMP],
  ['ramp', '--target', 'socketio', ...RAMP],
  ['ramp', '--target', 'socketio-recovery', ...RAMP],
];

// The results of the runs below are made anew; the other benches' (growth, attack, jobs, export,
// uploads, webhooks, replicas: each run on its own) are kept.
const RESULTS = path.join(ROOT, 'bench', 'results');
const MADE_HERE = /^(idle|fanout|rooms|storm|ramp)-.*\.json$|^flush$/;
if (existsSync(RESULTS)) for (const f of readdirSync(RESULTS)) if (MADE_HERE.test(f)) rmSync(path.join(RESULTS, f), { force: true, recursive: true });
for (const args of RUNS) {
  console.log(`\n$ npm run bench -- ${args.join(' ')}`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], { cwd: ROOT, stdio: 'inherit' });
  if (run.status !== 0) console.error(`(that run failed with status ${run.status}; its result is missing)`);
}
// Server CPU per delivery against the flush window, at 200 and 800 sends/s (bench/flush-sweep.ts).
console.log('\n$ npx tsx bench/flush-sweep.ts');
const sweep = spawnSync(process.execPath, ['--import', 'tsx', 'bench/flush-sweep.ts'], { cwd: ROOT, stdio: 'inherit' });
if (sweep.status !== 0) console.error(`(the flush sweep failed with status ${sweep.status})`);
spawnSync(process.execPath, ['--import', 'tsx', 'bench/render.ts'], { cwd: ROOT, stdio: 'inherit' });
