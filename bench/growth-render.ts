/**
 * Renders the growth bench's results (bench/results/growth-*.json) into docs/benchmarks.md
 * (between the growth markers) and a log-log chart, docs/bench/growth.svg: each curve with its
 * growth exponent, the least-squares slope of log(cost) against log(size) (0 is flat, 1 linear,
 * 2 quadratic), and the same slope between the two largest sizes alone.
 *
 *   npm run bench -- growth render
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const RESULTS = path.join(ROOT, 'bench', 'results');
const DOC = path.join(ROOT, 'docs', 'benchmarks.md');
const CHART = path.join(ROOT, 'docs', 'bench', 'growth.svg');

export const OPS = ['send', 'rooms', 'subscribe', 'storm', 'search'] as const;
export type Op = (typeof OPS)[number];

export interface GrowthResult {
  bench: 'growth';
  store: 'sqlite' | 'postgres';
  label: string;
  machine: { cpus: number; model: string; node: string };
  params: Record<string, unknown>;
  ranAt: Partial<Record<Op, string>>;
  ops: Partial<Record<Op, Array<Record<string, unknown>>>>;
}

export interface Curve {
  op: Op;
  measure: string;
  unit: string;
  points: Array<[number, number]>;
  /** Over all the points. */
  exponent: number | null;
  /** Between the two largest sizes: where a curve that is flat at first turns linear, this says so. */
  lastStepExponent: number | null;
}

const TITLES: Record<Op, { title: string; size: string }> = {
  send: { title: 'send → ack (clientMsgId)', size: 'messages in the room' },
  rooms: { title: 'GET /rooms', size: 'messages behind in one room' },
  subscribe: { title: 'subscribe right after a join', size: 'members of the room' },
  storm: { title: 'reconnect storm', size: 'clients of the room (C)' },
  search: { title: 'public room search', size: 'public rooms' },
};

type Pick = (p: Record<string, unknown>) => unknown;
const at =
  (...keys: string[]): Pick =>
  (p) =>
    keys.reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), p);

const MEASURES: Record<Op, Array<{ measure: string; unit: string; pick: Pick }>> = {
  send: [
    { measure: 'send → ack p50', unit: 'ms', pick: at('p50') },
    { measure: 'send → ack p95', unit: 'ms', pick: at('p95') },
    { measure: 'store append, mean', unit: 'ms', pick: at('appendMeanMs') },
  ],
  rooms: [
    { measure: 'GET /rooms p50', unit: 'ms', pick: at('p50') },
    { measure: 'GET /rooms p95', unit: 'ms', pick: at('p95') },
  ],
  subscribe: [
    { measure: 'after a join p50', unit: 'ms', pick: at('p50') },
    { measure: 'after a join p95', unit: 'ms', pick: at('p95') },
    { measure: 'nothing changed p50', unit: 'ms', pick: at('steady', 'p50') },
  ],
  storm: [
    { measure: 'server CPU per reconnect', unit: 'ms', pick: at('cpuMsPerReconnect') },
    { measure: 'presence frames per client', unit: 'frames', pick: at('presenceFramesPerClient') },
    { measure: '99% resumed after', unit: 's', pick: at('resumed99Seconds') },
  ],
  search: [
    { measure: 'a few matches p50', unit: 'ms', pick: at('match', 'p50') },
    { measure: 'a few matches p95', unit: 'ms', pick: at('match', 'p95') },
    { measure: 'no match p50', unit: 'ms', pick: at('none', 'p50') },
    { measure: 'no match p95', unit: 'ms', pick: at('none', 'p95') },
  ],
};

/** Least-squares slope of ln(value) on ln(size), over the points with a positive value. */
export function growthExponent(points: Array<[number, number]>): number | null {
  const xy = points.filter(([s, v]) => s > 0 && v > 0 && Number.isFinite(v)).map(([s, v]) => [Math.log(s), Math.log(v)] as const);
  if (xy.length < 2) return null;
  const mx = xy.reduce((n, [x]) => n + x, 0) / xy.length;
  const my = xy.reduce((n, [, y]) => n + y, 0) / xy.length;
  const sxx = xy.reduce((n, [x]) => n + (x - mx) ** 2, 0);
  if (sxx === 0) return null;
  return Number((xy.reduce((n, [x, y]) => n + (x - mx) * (y - my), 0) / sxx).toFixed(2));
}

export function curvesOf(result: GrowthResult): Curve[] {
  const curves: Curve[] = [];
  for (const op of OPS) {
    const points = result.ops[op];
    if (points === undefined) continue;
    for (const m of MEASURES[op]) {
      const xy = points.map((p) => [Number(p.size), Number(m.pick(p) ?? Number.NaN)] as [number, number]);
      const measured = xy.filter(([, v]) => v > 0 && Number.isFinite(v));
      curves.push({ op, measure: m.measure, unit: m.unit, points: xy, exponent: growthExponent(xy), lastStepExponent: measured.length < 2 ? null : growthExponent(measured.slice(-2)) });
    }
  }
  return curves;
}

interface Series {
  name: string;
  before: boolean;
  store: 'sqlite' | 'postgres';
  result: GrowthResult;
}

function loadSeries(): Series[] {
  if (!existsSync(RESULTS)) return [];
  const series: Series[] = [];
  for (const f of readdirSync(RESULTS).sort()) {
    const m = /^growth-(before-)?(sqlite|postgres)\.json$/.exec(f);
    if (m === null) continue;
    const result = JSON.parse(readFileSync(path.join(RESULTS, f), 'utf8')) as GrowthResult;
    const store = m[2] as 'sqlite' | 'postgres';
    series.push({ name: `${store === 'sqlite' ? 'SQLite' : 'PostgreSQL'}${m[1] === undefined ? '' : ', before'}`, before: m[1] !== undefined, store, result });
  }
  // Current figures first, then those from before the fixes.
  return series.sort((a, b) => Number(a.before) - Number(b.before) || a.store.localeCompare(b.store));
}

const fmt = (v: number) => (!Number.isFinite(v) ? '—' : v >= 100 ? Math.round(v).toLocaleString('en-US') : String(Number(v.toPrecision(3))));

function tables(series: Series[]): string {
  const out: string[] = [];
  for (const op of OPS) {
    const rows = series.flatMap((s) => curvesOf(s.result).filter((c) => c.op === op).map((c) => ({ s, c })));
    if (rows.length === 0) continue;
    const sizes = [...new Set(rows.flatMap(({ c }) => c.points.map(([size]) => size)))].sort((a, b) => a - b);
    out.push(`### ${TITLES[op].title}, by ${TITLES[op].size}\n`);
    out.push(`| measure | store | ${sizes.map((s) => s.toLocaleString('en-US')).join(' | ')} | growth exponent | last step |`);
    out.push(`|---|---|${sizes.map(() => '---:').join('|')}|---:|---:|`);
    for (const { s, c } of rows) {
      const cells = sizes.map((size) => {
        const v = c.points.find(([x]) => x === size)?.[1];
        return v === undefined ? '' : fmt(v);
      });
      out.push(`| ${c.measure} (${c.unit}) | ${s.name} | ${cells.join(' | ')} | ${c.exponent ?? '—'} | ${c.lastStepExponent ?? '—'} |`);
    }
    if (op === 'storm') {
      const n = (v: unknown) => Math.round(Number(v)).toLocaleString('en-US');
      const notes = series.flatMap((s) =>
        (s.result.ops.storm ?? []).map(
          (p) =>
            `${s.name}, C = ${n(p.size)}: ${n(p.resumed)} resumed, ${n(p.failed)} failed, ${n(p.serverCloses ?? 0)} closed by the server; presence mode: ${p.presenceMode}; ${n(p.presenceFrames)} presence + ${n(p.presenceBatchFrames)} presence_batch frames; all back in ${p.allBackSeconds} s; ${n(p.cpuMs)} ms of server CPU (its idle ${p.idleCpuMsPerSecond ?? '?'} ms/s subtracted); ${n(p.openSeconds)} s to open the connections at first`,
        ),
      );
      out.push('', ...notes.map((n) => `- ${n}`));
    }
    out.push('');
  }
  const when = series.map((s) => `${s.name}: ${Object.values(s.result.ranAt).sort()[0]?.slice(0, 10) ?? '?'}, ${s.result.label}`);
  out.push(`Runs: ${when.join('; ')}.`);
  return out.join('\n');
}

const COLORS = ['#2f5bd3', '#d3472f', '#2a9d5b', '#9b51e0'];

function chart(series: Series[]): string {
  const panelW = 460;
  const cols = 2;
  const ops = OPS.filter((op) => series.some((s) => s.result.ops[op] !== undefined));
  const legendLines = Math.max(...ops.map((op) => series.reduce((n, s) => n + (s.result.ops[op] === undefined ? 0 : MEASURES[op].length), 0)));
  const plotH = 200;
  const panelH = plotH + 50 + legendLines * 13;
  const width = cols * panelW + 20;
  const height = Math.ceil(ops.length / cols) * (panelH + 40) + 60;
  const esc = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11"><rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="22" font-size="14" font-weight="600">Growth: cost against size, log-log (the slope is the growth exponent)</text>`,
    `<text x="12" y="40" fill="#475467">solid: SQLite, dashed: PostgreSQL${series.some((s) => s.before) ? '; hollow marks, paler lines: before the fixes of issue 10' : ''}</text>`,
  ];
  ops.forEach((op, i) => {
    const x0 = 10 + (i % cols) * panelW + 50;
    const y0 = 60 + Math.floor(i / cols) * (panelH + 40) + 20;
    const w = panelW - 80;
    const h = plotH;
    const curves = series.flatMap((s) => curvesOf(s.result).filter((c) => c.op === op).map((c) => ({ s, c })));
    const xs = curves.flatMap(({ c }) => c.points.map(([x]) => x)).filter((x) => x > 0);
    const ys = curves.flatMap(({ c }) => c.points.map(([, y]) => y)).filter((y) => y > 0 && Number.isFinite(y));
    if (xs.length === 0 || ys.length === 0) return;
    const lx0 = Math.floor(Math.log10(Math.min(...xs)));
    const lx1 = Math.ceil(Math.log10(Math.max(...xs)) + 1e-9);
    const ly0 = Math.floor(Math.log10(Math.min(...ys)));
    const ly1 = Math.max(ly0 + 1, Math.ceil(Math.log10(Math.max(...ys)) + 1e-9));
    const px = (x: number) => x0 + ((Math.log10(x) - lx0) / Math.max(1, lx1 - lx0)) * w;
    const py = (y: number) => y0 + h - ((Math.log10(y) - ly0) / (ly1 - ly0)) * h;
    parts.push(`<text x="${x0}" y="${y0 - 8}" font-size="12" font-weight="600">${esc(TITLES[op].title)}</text>`);
    parts.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#667085"/>`);
    for (let d = lx0; d <= lx1; d++) parts.push(`<line x1="${px(10 ** d)}" y1="${y0}" x2="${px(10 ** d)}" y2="${y0 + h}" stroke="#eaecf0"/><text x="${px(10 ** d)}" y="${y0 + h + 13}" text-anchor="middle">${(10 ** d).toLocaleString('en-US')}</text>`);
    for (let d = ly0; d <= ly1; d++) parts.push(`<line x1="${x0}" y1="${py(10 ** d)}" x2="${x0 + w}" y2="${py(10 ** d)}" stroke="#eaecf0"/><text x="${x0 - 4}" y="${py(10 ** d) + 4}" text-anchor="end">${10 ** d >= 1 ? (10 ** d).toLocaleString('en-US') : String(10 ** d)}</text>`);
    parts.push(`<text x="${x0 + w / 2}" y="${y0 + h + 27}" text-anchor="middle" fill="#475467">${esc(TITLES[op].size)}</text>`);
    const measures = MEASURES[op].map((m) => m.measure);
    curves.forEach(({ s, c }, k) => {
      const color = COLORS[measures.indexOf(c.measure) % COLORS.length] as string;
      const pts = c.points.filter(([x, y]) => x > 0 && y > 0 && Number.isFinite(y));
      const dash = s.store === 'postgres' ? ' stroke-dasharray="5 3"' : '';
      const opacity = s.before ? ' stroke-opacity="0.55"' : '';
      if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8"${dash}${opacity} points="${pts.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
      for (const [x, y] of pts) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.before ? '#fff' : color}" stroke="${color}"/>`);
      const ly = y0 + h + 42 + k * 13;
      parts.push(`<line x1="${x0}" y1="${ly - 4}" x2="${x0 + 22}" y2="${ly - 4}" stroke="${color}" stroke-width="1.8"${dash}/><text x="${x0 + 28}" y="${ly}">${esc(`${c.measure} (${c.unit}), ${s.name}: exp. ${c.exponent ?? '—'}`)}</text>`);
    });
  });
  parts.push('</svg>\n');
  return parts.join('');
}

/** Writes the growth tables into docs/benchmarks.md and the chart into docs/bench/growth.svg. */
export function renderGrowth(): void {
  const series = loadSeries();
  if (series.length === 0) {
    console.log('no growth results to render');
    return;
  }
  mkdirSync(path.dirname(CHART), { recursive: true });
  writeFileSync(CHART, chart(series));
  const start = '<!-- growth:start -->';
  const end = '<!-- growth:end -->';
  const doc = readFileSync(DOC, 'utf8');
  if (!doc.includes(start) || !doc.includes(end)) throw new Error(`${DOC} lacks the ${start} / ${end} markers`);
  writeFileSync(DOC, `${doc.slice(0, doc.indexOf(start) + start.length)}\n${tables(series)}\n\n![growth: cost against size, log-log](bench/growth.svg)\n${doc.slice(doc.indexOf(end))}`);
  console.log(`rendered ${series.map((s) => s.name).join(', ')} into docs/benchmarks.md and docs/bench/growth.svg`);
}
