/**
 * The web app's colours meet WCAG 2.1 AA contrast, in the light and the dark scheme: 4.5:1 for
 * text against every background it is set on, 3:1 for the presence dot and focus ring against
 * theirs. Read from style.css itself, so a colour changed there is checked here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const css = readFileSync(new URL('../../web/src/style.css', import.meta.url), 'utf8');

/** The custom properties of the first `:root { … }` after `from` in the stylesheet. */
function palette(from: number): Record<string, string> {
  const start = css.indexOf(':root {', from);
  const block = css.slice(start, css.indexOf('}', start));
  return Object.fromEntries([...block.matchAll(/--([\w-]+):\s*(#[0-9a-f]{6})/gi)].map((m) => [m[1] as string, m[2] as string]));
}

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function ratio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

const TEXT: Array<[string, string]> = [
  ['fg', 'bg'],
  ['fg', 'side'],
  ['fg', 'hover'],
  ['muted', 'bg'],
  ['muted', 'side'],
  ['accent', 'bg'],
  ['accent', 'side'],
  ['accent-fg', 'accent'],
  ['danger', 'bg'],
  ['danger', 'side'],
];
const GRAPHICS: Array<[string, string]> = [
  ['ok', 'side'],
  ['accent', 'hover'],
];

for (const [scheme, from] of [
  ['light', 0],
  ['dark', css.indexOf('prefers-color-scheme: dark')],
] as const) {
  test(`${scheme} scheme: text at 4.5:1 and graphics at 3:1 against their backgrounds`, () => {
    assert.ok(from >= 0, `style.css has a ${scheme} scheme`);
    const colours = palette(from);
    for (const [pairs, min] of [
      [TEXT, 4.5],
      [GRAPHICS, 3],
    ] as const) {
      for (const [fg, bg] of pairs) {
        const a = colours[fg];
        const b = colours[bg];
        assert.ok(a && b, `--${fg} and --${bg} are defined`);
        const r = ratio(a, b);
        assert.ok(r >= min, `--${fg} on --${bg}: ${r.toFixed(2)}:1, below ${min}:1`);
      }
    }
  });
}
