/**
 * Server CPU per delivery against the flush window (WS_FLUSH_MS): the fanout scenario (one room
 * of `--clients` members, `--senders` of them sending) at each offered rate and each window,
 * one run of bench/run.ts each, the server's own CPU time (user + system of its processes, not
 * the load generator's) divided by the deliveries it made. Writes
 * bench/results/flush/<rate>-<window>.json and prints a table.
 *
 *   npx tsx bench/flush-sweep.ts [--rates 200,800] [--windows 0,1,2,5,10] [--clients 1000] [--duration 10]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '200,800' },
    windows: { type: 'string', default: '0,1,2,5,10' },
    clients: { type: 'string', default: '1000' },
    senders: { type: 'string', default: '10' },
    duration: { type: 'string', default: '10' },
    agents: { type: 'string', default: '3' },
  },
});
const list = (raw: string) => raw.split(',').map((v) => Number(v.trim()));

interface Row {
  rate: number;
  windowMs: number;
  deliveriesPerSec: number;
  cpuUsPerDelivery: number | null;
  systemShare: number | null;
  framesPerWrite: number | null;
  cpuShare: number;
  p50: number | null;
  p99: number | null;
  lost: number;
  duplicates: number;
  outOfOrder: number;
}

const rows: Row[] = [];
for (const rate of list(values.rates)) {
  for (const windowMs of list(values.windows)) {
    const out = path.join(ROOT, 'bench', 'results', 'flush', `${rate}-${windowMs}.json`);
    const args = ['--import', 'tsx', 'bench/run.ts', 'fanout', '--clients', values.clients, '--senders', values.senders, '--rate', String(rate), '--duration', values.duration, '--agents', values.agents, '--flush-ms', String(windowMs), '--out', out];
    console.log(`\n$ node ${args.join(' ')}`);
    const run = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (run.status !== 0) throw new Error(`run failed (rate ${rate}, window ${windowMs} ms): exit ${run.status}`);
    const r = JSON.parse(readFileSync(out, 'utf8'));
    rows.push({
      rate,
      windowMs,
      deliveriesPerSec: r.deliveriesPerSec,
      cpuUsPerDelivery: r.serverCpuUsPerDelivery,
      systemShare: r.serverCpuSystemShare,
      framesPerWrite: r.framesPerSocketWrite,
      cpuShare: +(r.serverCpuMs / (r.params.durationSec * 1000)).toFixed(2),
      p50: r.latencyMs?.p50 ?? null,
      p99: r.latencyMs?.p99 ?? null,
      lost: r.lost,
      duplicates: r.duplicates,
      outOfOrder: r.outOfOrder,
    });
    console.log(JSON.stringify(rows.at(-1)));
  }
}
console.log('\n| sends/s | window (ms) | deliveries/s | server CPU per delivery (µs) | of it in the kernel | frames per socket write | server cores busy | p50 (ms) | p99 (ms) | lost / dup / out of order |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows)
  console.log(
    `| ${r.rate} | ${r.windowMs} | ${r.deliveriesPerSec.toLocaleString('en-US')} | ${r.cpuUsPerDelivery} | ${r.systemShare === null ? '—' : `${Math.round(r.systemShare * 100)}%`} | ${r.framesPerWrite ?? '—'} | ${r.cpuShare} | ${r.p50} | ${r.p99} | ${r.lost} / ${r.duplicates} / ${r.outOfOrder} |`,
  );
