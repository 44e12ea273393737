// Prints the configuration table of docs/operations.md from src/config.ts, so the two never
// disagree: `npx tsx scripts/config-table.ts --write` rewrites the table in place.
import { readFileSync, writeFileSync } from 'node:fs';
import { OPTIONS } from '../src/config.js';

const START = '<!-- config-table:start -->';
const END = '<!-- config-table:end -->';

export function configTable(): string {
  const rows = Object.entries(OPTIONS).map(([name, o]) => `| \`${name}\` | ${o.default === '' ? '(unset)' : `\`${o.default}\``} | ${o.doc.replace(/\|/g, '\\|')} |`);
  return [START, '| variable | default | meaning |', '|---|---|---|', ...rows, END].join('\n');
}

if (process.argv.includes('--write')) {
  const file = 'docs/operations.md';
  const doc = readFileSync(file, 'utf8');
  const from = doc.indexOf(START);
  const to = doc.indexOf(END);
  if (from === -1 || to === -1) throw new Error(`${file} has no config-table markers`);
  writeFileSync(file, doc.slice(0, from) + configTable() + doc.slice(to + END.length));
  console.log(`${file}: configuration table written`);
} else if (process.argv[1]?.endsWith('config-table.ts')) {
  console.log(configTable());
}
