#!/usr/bin/env node
/**
 * Builds the web client: web/src/main.ts and web/src/style.css bundled by esbuild into
 * web/dist/assets with content hashes in their names, and web/dist/index.html from the
 * web/index.html template naming them. Hashed assets can be cached forever; index.html never.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const web = path.join(root, 'web');
const dist = path.join(web, 'dist');

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const started = Date.now();
const result = await build({
  entryPoints: [path.join(web, 'src', 'main.ts'), path.join(web, 'src', 'style.css')],
  outdir: dist,
  entryNames: 'assets/[name].[hash]',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.entries(result.metafile.outputs);
const find = (entry) => {
  const found = outputs.find(([, o]) => o.entryPoint !== undefined && o.entryPoint.endsWith(entry));
  if (found === undefined) throw new Error(`no output for ${entry}`);
  return `/${path.relative(dist, path.join(root, found[0])).split(path.sep).join('/')}`;
};
const script = find('src/main.ts');
const style = find('src/style.css');

const html = readFileSync(path.join(web, 'index.html'), 'utf8')
  .replace('<!-- styles -->', `<link rel="stylesheet" href="${style}" />`)
  .replace('<!-- scripts -->', `<script type="module" src="${script}"></script>`);
writeFileSync(path.join(dist, 'index.html'), html);

const bytes = outputs.filter(([file]) => !file.endsWith('.map')).reduce((n, [, o]) => n + o.bytes, 0);
console.log(`web client built in ${Date.now() - started} ms: ${script}, ${style} (${(bytes / 1024).toFixed(1)} KiB)`);
