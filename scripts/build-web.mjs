#!/usr/bin/env node
/**
 * Builds the web client: web/src/main.tsx and web/src/style.css bundled by esbuild into
 * web/dist/assets with content hashes in their names, and web/dist/index.html from the
 * web/index.html template naming them. Hashed assets can be cached forever; index.html never.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const web = path.join(root, 'web');
const dist = path.join(web, 'dist');
const PLACEHOLDERS = { styles: '<!-- styles -->', scripts: '<!-- scripts -->' };

async function main() {
  const started = Date.now();
  const template = readFileSync(path.join(web, 'index.html'), 'utf8');
  for (const placeholder of Object.values(PLACEHOLDERS)) {
    if (!template.includes(placeholder)) throw new Error(`web/index.html has no ${placeholder} placeholder`);
  }

  // Nothing is removed before the new files are in place, and every file is written under a
  // temporary name and renamed: a page being served while a build runs (tests build in parallel)
  // never meets a missing or half-written asset. Hashed names of unchanged sources stay the same.
  mkdirSync(path.join(dist, 'assets'), { recursive: true });

  const result = await build({
    absWorkingDir: root,
    entryPoints: ['web/src/main.tsx', 'web/src/style.css'],
    outdir: 'web/dist',
    entryNames: 'assets/[name].[hash]',
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: true,
    metafile: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  for (const warning of result.warnings) console.warn(`warning: ${warning.text}`);
  const written = new Set();
  for (const file of result.outputFiles) {
    writeAtomically(file.path, file.contents);
    written.add(path.resolve(file.path));
  }

  // Metafile output paths are relative to absWorkingDir; the page names them from the web root.
  const outputs = Object.entries(result.metafile.outputs);
  const assetFor = (entry) => {
    const found = outputs.find(([file, output]) => output.entryPoint === entry && !file.endsWith('.map'));
    if (found === undefined) throw new Error(`esbuild produced no output for ${entry}`);
    return `/${path.posix.relative('web/dist', found[0].split(path.sep).join('/'))}`;
  };
  const script = assetFor('web/src/main.tsx');
  const style = assetFor('web/src/style.css');

  const html = template
    .replace(PLACEHOLDERS.styles, `<link rel="stylesheet" href="${style}" />`)
    .replace(PLACEHOLDERS.scripts, `<script type="module" src="${script}"></script>`);
  writeAtomically(path.join(dist, 'index.html'), html);
  // Then the assets of earlier builds go.
  for (const name of readdirSync(path.join(dist, 'assets'))) {
    const file = path.resolve(dist, 'assets', name);
    if (!written.has(file) && !name.includes('.tmp-')) rmSync(file, { force: true });
  }

  // What a browser downloads: the script and stylesheet, gzipped (docs/benchmarks.md records it).
  const shipped = result.outputFiles.filter((file) => !file.path.endsWith('.map'));
  const bytes = shipped.reduce((n, file) => n + file.contents.length, 0);
  const gzipped = shipped.reduce((n, file) => n + gzipSync(file.contents, { level: 9 }).length, 0);
  console.log(`web client built in ${Date.now() - started} ms: ${script}, ${style} (${(bytes / 1024).toFixed(1)} KiB, ${(gzipped / 1024).toFixed(1)} KiB gzipped)`);
}

/** Writes `file` under a temporary name beside it, then renames it into place. */
function writeAtomically(file, contents) {
  const temp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(temp, contents);
  renameSync(temp, file);
}

try {
  await main();
} catch (error) {
  // esbuild's BuildFailure carries its messages; anything else is reported as is.
  const messages = Array.isArray(error?.errors) && error.errors.length > 0 ? error.errors : null;
  if (messages === null) console.error(`web client build failed: ${error instanceof Error ? error.message : String(error)}`);
  else {
    console.error('web client build failed:');
    for (const m of messages) {
      const where = m.location === null ? '' : `${m.location.file}:${m.location.line}:${m.location.column}: `;
      console.error(`  ${where}${m.text}`);
    }
  }
  process.exitCode = 1;
}
