#!/usr/bin/env node
// Runs every test file under test/ with node:test through tsx. Node 20 does not expand globs
// for --test, so the files are listed here. Extra arguments narrow the run to matching paths:
//   node scripts/run-tests.mjs store       # only files whose path contains "store"
//
// Every file but the scale-out, fault and attack suites runs first, two at a time; then each
// scale-out suite (test/scale/), each fault suite (test/faults/) and each attack run named
// below runs alone, in a runner of its own, since each starts nodes under load (and breaks
// their dependencies) and needs the machine's cores to itself. The last line adds up every run.
// Before it, every failure is printed again with the start of its details, so that the end of a
// long log says what failed.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return find(full);
    return name.endsWith('.test.ts') ? [full] : [];
  });
}

const filters = process.argv.slice(2);
const files = find('test')
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files match', filters);
  process.exit(1);
}
const alone = ['scale', 'faults'].map((dir) => path.join('test', dir) + path.sep);
// Attack runs outside those folders that also need the cores to themselves: hundreds of
// trickling connections against a server under a low open-file limit, whose answers must all
// arrive (beside other suites, the machine's load alone made some miss their deadlines).
const aloneFiles = [path.join('test', 'integration', 'slow-clients.test.ts')];
const isAlone = (f) => alone.some((dir) => f.startsWith(dir)) || aloneFiles.includes(f);
const phases = [
  { files: files.filter((f) => !isAlone(f)), concurrency: 2, timeoutMs: 300_000 },
  ...files.filter(isAlone).map((f) => ({ files: [f], concurrency: 1, timeoutMs: 240_000 })),
].filter((p) => p.files.length > 0);

/** Runs one phase, passing its output through, and returns its counts from the runner's summary. */
function run(phase) {
  return new Promise((resolve) => {
    const args = ['--import', 'tsx', '--test', `--test-concurrency=${phase.concurrency}`, `--test-timeout=${phase.timeoutMs}`, ...phase.files];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const counts = { pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
    let tail = '';
    let line = '';
    // A file that fails as a whole (a timeout, a crash) is a top-level "not ok" that the
    // runner's summary does not always count.
    let filesFailed = 0;
    // Each failure at any depth, with the first lines of its details, repeated at the end.
    let capturing = 0;
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const text = chunk.toString();
      tail = (tail + text).slice(-4096);
      const lines = (line + text).split('\n');
      line = lines.pop() ?? '';
      for (const l of lines) {
        if (l.startsWith('not ok ')) filesFailed += 1;
        // A failing test marked TODO or SKIP is no failure.
        if (/^\s*not ok /.test(l) && !/# (TODO|SKIP)\b/i.test(l)) {
          capturing = 14;
          if (failures.length < MAX_FAILURE_LINES) failures.push(l);
        } else if (capturing > 0) {
          if (failures.length < MAX_FAILURE_LINES) failures.push(l);
          capturing -= 1;
        }
      }
    });
    child.on('close', (code, signal) => {
      for (const key of Object.keys(counts)) {
        const m = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(tail);
        if (m) counts[key] = Number(m[1]);
      }
      if (counts.fail + counts.cancelled === 0) counts.fail = filesFailed;
      resolve({ ok: code === 0 && signal === null && filesFailed === 0, counts });
    });
  });
}

/** Lines of failures repeated at the end, at most. */
const MAX_FAILURE_LINES = 300;
const failures = [];
let ok = true;
const total = { pass: 0, fail: 0, cancelled: 0, skipped: 0 };
for (const phase of phases) {
  const result = await run(phase);
  ok &&= result.ok;
  for (const key of Object.keys(total)) total[key] += result.counts[key];
}
const failed = total.fail + total.cancelled;
if (failures.length > 0) console.log(['# failures, again:', ...failures].join('\n'));
if (!ok && failed === 0) console.log('# a test phase exited non-zero without a failing test');
console.log(`tests: ${total.pass} passed, ${failed + (!ok && failed === 0 ? 1 : 0)} failed, ${total.skipped} skipped`);
process.exit(ok ? 0 : 1);
