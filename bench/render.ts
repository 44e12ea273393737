/**
 * Renders bench/results/*.json into docs/benchmarks.md (the tables between the results markers)
 * and SVG bar charts in docs/bench/, then the growth section (bench/growth-render.ts).
 *
 *   npx tsx bench/render.ts
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Json } from '../test/support/json.js';
import { renderGrowth } from './growth-render.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const RESULTS = path.join(ROOT, 'bench', 'results');
const DOC = path.join(ROOT, 'docs', 'benchmarks.md');
const CHARTS = path.join(ROOT, 'docs', 'bench');

type Result = Record<string, Json>;
const results: Result[] = existsSync(RESULTS)
  ? readdirSync(RESULTS)
      .filter((f) => f.endsWith('.json') && !f.startsWith('growth-'))
      .sort()
      .map((f) => ({ file: f, ...JSON.parse(readFileSync(path.join(RESULTS, f), 'utf8')) }))
  : [];

const processes = (r: Result) => (r.params.workers > 1 ? `, ${r.params.workers} processes` : '');
const label = (r: Result) =>
  r.target === 'parley'
    ? `Parley (${r.params.store === 'sqlite' ? 'SQLite' : 'PostgreSQL'}${r.params.redis ? ' + Redis' : ''}, ${r.params.workers} worker${r.params.workers > 1 ? 's' : ''}${!r.params.presence || r.params.presence === 'full' ? '' : `, presence ${r.params.presence}`})`
    : r.target === 'socketio-recovery'
      ? `Socket.IO 4 with recovery (Redis Streams${processes(r)})`
      : `Socket.IO 4${r.params.store === 'postgres' ? ' + PostgreSQL' : ''}${r.params.redis ? ` + Redis${processes(r)}` : ''}`;
const n = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en-US') : '—');
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const lat = (r: Result) => (r.latencyMs === null || r.latencyMs === undefined ? '— | — | — | —' : `${r.latencyMs.p50} | ${r.latencyMs.p95} | ${r.latencyMs.p99} | ${r.latencyMs.max}`);
const ack = (r: Result) => (r.ackLatencyMs === null || r.ackLatencyMs === undefined ? '—' : `${r.ackLatencyMs.p50} / ${r.ackLatencyMs.p99}`);
const integrity = (r: Result) => `${n(r.lost)} / ${n(r.duplicates)} / ${n(r.outOfOrder)}`;

function table(scenario: string): string {
  const rows = results.filter((r) => r.scenario === scenario);
  if (rows.length === 0) return '_not run_';
  switch (scenario) {
    case 'idle':
      return [
        '| server | connections | heap per connection | RSS per connection | opened in | connections/s (at once) | connect p50 / p99 (ms) | server CPU per connection |',
        '|---|---:|---:|---:|---:|---:|---:|---:|',
        ...rows.map(
          (r) =>
            `| ${label(r)} | ${n(r.params.clients)} | ${r.server.heapPerConnectionBytes === undefined ? '—' : kb(r.server.heapPerConnectionBytes)} | ${kb(r.server.rssPerConnectionBytes)} | ${r.openSeconds} s | ${r.connect === undefined ? '—' : `${n(r.connect.perSec)} (${r.connect.concurrency})`} | ${r.connect === undefined ? '—' : `${r.connect.ms.p50} / ${r.connect.ms.p99}`} | ${r.connect === undefined ? '—' : `${n(r.connect.serverCpuUsPerConnection)} µs`} |`,
        ),
      ].join('\n');
    case 'fanout':
    case 'rooms':
      return [
        '| server | clients | offered sends/s | sends acked | deliveries/s | p50 | p95 | p99 | max (ms) | send → ack p50 / p99 (ms) | lost / dup / out of order |',
        '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
        ...rows.map((r) => `| ${label(r)} | ${n(r.params.clients)} | ${n(r.params.ratePerSec)} | ${n(r.acked)} of ${n(r.sent)} | ${n(r.deliveriesPerSec)} | ${lat(r)} | ${ack(r)} | ${integrity(r)} |`),
      ].join('\n');
    case 'storm':
      return [
        '| server | clients | jitter | reconnected | sessions restored | 50% / 99% / all resumed after | store calls per reconnect | catch-up reads | deliveries | p99 (ms) | lost / dup / out of order |',
        '|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|',
        ...rows.map((r) => {
          const s = r.storm ?? {};
          const q = (v: unknown) => (typeof v === 'number' ? `${v} s` : '—');
          const resumed = s.resumedSeconds === undefined ? `— / — / ${s.recoverySeconds} s` : `${q(s.resumedSeconds.p50)} / ${q(s.resumedSeconds.p99)} / ${q(s.resumedSeconds.all)}`;
          const restored = r.target === 'parley' ? 'n/a (resume by seq)' : n(s.restored);
          return `| ${label(r)} | ${n(r.params.clients)} | ${s.jitterMs === undefined ? '—' : `${n(s.jitterMs)} ms`} | ${n(s.reconnected)} | ${restored} | ${resumed} | ${s.storeCallsPerReconnect ?? '—'} | ${n(s.catchUpReads)} | ${n(r.deliveries)} | ${r.latencyMs?.p99 ?? '—'} | ${integrity(r)} |`;
        }),
      ].join('\n');
    case 'ramp':
      return rows
        .map((r) =>
          [
            `${label(r)}, ${n(r.params.clients)} clients in one room; highest send rate with p99 < 100 ms: **${n(r.maxRateUnder100msP99)}/s**`,
            '',
            '| sends/s offered | acked | deliveries/s | p50 | p95 | p99 | max (ms) | lost / dup / out of order |',
            '|---:|---:|---:|---:|---:|---:|---:|---|',
            ...r.steps.map((s: Result) => `| ${n(s.ratePerSec)} | ${n(s.acked)} of ${n(s.sent)} | ${n(s.deliveriesPerSec)} | ${lat(s)} | ${integrity(s)} |`),
          ].join('\n'),
        )
        .join('\n\n');
    default:
      return '';
  }
}

function barChart(title: string, bars: Array<{ label: string; value: number }>, unit: string): string {
  const width = 640;
  const rowH = 34;
  const left = 260;
  const height = 50 + bars.length * rowH;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const rows = bars
    .map((b, i) => {
      const y = 40 + i * rowH;
      const w = Math.max(1, ((width - left - 90) * b.value) / max);
      return `<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(b.label)}</text><rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="24" fill="${b.label.startsWith('Parley') ? '#2f5bd3' : '#98a2b3'}"/><text x="${left + w + 6}" y="${y + 17}">${esc(b.value.toLocaleString('en-US'))} ${esc(unit)}</text>`;
    })
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="13"><rect width="100%" height="100%" fill="#fff"/><text x="12" y="24" font-weight="600">${esc(title)}</text>${rows}</svg>\n`;
}

mkdirSync(CHARTS, { recursive: true });
const fanout = results.filter((r) => r.scenario === 'fanout');
if (fanout.length > 0) writeFileSync(path.join(CHARTS, 'fanout.svg'), barChart('fanout: deliveries per second (higher is better)', fanout.map((r) => ({ label: label(r), value: r.deliveriesPerSec })), '/s'));
const idle = results.filter((r) => r.scenario === 'idle');
if (idle.length > 0) writeFileSync(path.join(CHARTS, 'idle.svg'), barChart('idle: server RSS per connection (lower is better)', idle.map((r) => ({ label: label(r), value: Math.round(r.server.rssPerConnectionBytes / 102.4) / 10 })), 'KB'));
const rooms = results.filter((r) => r.scenario === 'rooms');
if (rooms.length > 0) writeFileSync(path.join(CHARTS, 'rooms.svg'), barChart('rooms: persisted messages per second (acked)', rooms.map((r) => ({ label: label(r), value: Math.round(r.acked / r.params.durationSec) })), '/s'));

/**
 * A line per server: p99 send→deliver latency (ms, log scale) against the deliveries per second
 * offered (log scale), from the ramp's steps.
 */
function latencyChart(series: Array<{ label: string; points: Array<{ x: number; y: number }> }>): string {
  const width = 640;
  const height = 360;
  const left = 70;
  const right = 44;
  const top = 40;
  const bottom = 60;
  const xs = series.flatMap((s) => s.points.map((p) => p.x)).filter((x) => x > 0);
  const ys = series.flatMap((s) => s.points.map((p) => p.y)).filter((y) => y > 0);
  const log = (v: number) => Math.log10(Math.max(v, 1e-9));
  const [x0, x1] = [Math.floor(log(Math.min(...xs))), Math.ceil(log(Math.max(...xs)))];
  const [y0, y1] = [Math.floor(log(Math.min(...ys))), Math.ceil(log(Math.max(...ys)))];
  const px = (x: number) => left + ((log(x) - x0) / Math.max(1, x1 - x0)) * (width - left - right);
  const py = (y: number) => top + (1 - (log(y) - y0) / Math.max(1, y1 - y0)) * (height - top - bottom);
  const esc = (t: string) => t.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const colors = ['#2f5bd3', '#98a2b3', '#d97706', '#16a34a'];
  const grid: string[] = [];
  for (let e = x0; e <= x1; e++) grid.push(`<line x1="${px(10 ** e)}" y1="${top}" x2="${px(10 ** e)}" y2="${height - bottom}" stroke="#e5e7eb"/><text x="${px(10 ** e)}" y="${height - bottom + 16}" text-anchor="middle">${(10 ** e).toLocaleString('en-US')}</text>`);
  for (let e = y0; e <= y1; e++) grid.push(`<line x1="${left}" y1="${py(10 ** e)}" x2="${width - right}" y2="${py(10 ** e)}" stroke="#e5e7eb"/><text x="${left - 6}" y="${py(10 ** e) + 4}" text-anchor="end">${(10 ** e).toLocaleString('en-US')}</text>`);
  const lines = series.map((s, i) => {
    const color = colors[i % colors.length] as string;
    const pts = s.points.filter((p) => p.x > 0 && p.y > 0);
    const path = pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
    const dots = pts.map((p) => `<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${color}"/>`).join('');
    return `<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"/>${dots}<rect x="${left + 10}" y="${top + 8 + i * 18}" width="12" height="12" fill="${color}"/><text x="${left + 28}" y="${top + 18 + i * 18}">${esc(s.label)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="12"><rect width="100%" height="100%" fill="#fff"/><text x="12" y="24" font-weight="600" font-size="13">ramp: p99 send → deliver (ms) by deliveries/s offered (log scales)</text>${grid.join('')}${lines.join('')}<text x="${(left + width - right) / 2}" y="${height - 20}" text-anchor="middle">deliveries/s offered</text></svg>\n`;
}

const ramps = results.filter((r) => r.scenario === 'ramp' && Array.isArray(r.steps) && r.steps.length > 0);
if (ramps.length > 0)
  writeFileSync(
    path.join(CHARTS, 'latency-vs-rate.svg'),
    latencyChart(ramps.map((r) => ({ label: label(r), points: r.steps.map((s: Result) => ({ x: s.ratePerSec * r.params.clients, y: s.latencyMs?.p99 ?? 0 })) }))),
  );

// CPU per delivery against the flush window (bench/flush-sweep.ts), by offered send rate.
const FLUSH = path.join(RESULTS, 'flush');
const flush: Result[] = existsSync(FLUSH)
  ? readdirSync(FLUSH)
      .filter((f) => f.endsWith('.json'))
      .map((f) => JSON.parse(readFileSync(path.join(FLUSH, f), 'utf8')) as Result)
      .sort((a, b) => a.params.ratePerSec - b.params.ratePerSec || a.params.flushMs - b.params.flushMs)
  : [];
const pct = (share: unknown) => (typeof share === 'number' ? `${Math.round(share * 100)}%` : '—');
const flushTable =
  flush.length === 0
    ? '_not run_'
    : [
        `Parley (SQLite, 1 worker), ${n(flush[0]?.params.clients)} clients in one room, ${n(flush[0]?.params.senders)} senders; \`WS_FLUSH_MS\` = window.`,
        '',
        '| sends/s | window (ms) | deliveries/s | server CPU per delivery (µs) | of it in the kernel | frames per socket write | p50 | p99 (ms) | lost / dup / out of order |',
        '|---:|---:|---:|---:|---:|---:|---:|---:|---|',
        ...flush.map(
          (r) =>
            `| ${n(r.params.ratePerSec)} | ${r.params.flushMs} | ${n(r.deliveriesPerSec)} | ${r.serverCpuUsPerDelivery ?? '—'} | ${pct(r.serverCpuSystemShare)} | ${r.framesPerSocketWrite ?? '—'} | ${r.latencyMs?.p50 ?? '—'} | ${r.latencyMs?.p99 ?? '—'} | ${integrity(r)} |`,
        ),
      ].join('\n');
if (flush.length > 0)
  writeFileSync(
    path.join(CHARTS, 'flush-window.svg'),
    barChart(
      'server CPU per delivery against the flush window (µs, lower is better)',
      flush.map((r) => ({ label: `Parley, ${r.params.ratePerSec} sends/s, ${r.params.flushMs} ms`, value: r.serverCpuUsPerDelivery ?? 0 })),
      'µs',
    ),
  );

const generated = [...['idle', 'fanout', 'rooms', 'storm', 'ramp'].map((s) => `### ${s}\n\n${table(s)}\n`), `### flush window\n\n${flushTable}\n`].join('\n');
const doc = readFileSync(DOC, 'utf8');
const start = '<!-- results:start -->';
const end = '<!-- results:end -->';
if (!doc.includes(start) || !doc.includes(end)) throw new Error(`${DOC} lacks the ${start} / ${end} markers`);
writeFileSync(DOC, `${doc.slice(0, doc.indexOf(start) + start.length)}\n${generated}\n${doc.slice(doc.indexOf(end))}`);
console.log(`rendered ${results.length} results into docs/benchmarks.md and docs/bench/*.svg`);
renderGrowth();
