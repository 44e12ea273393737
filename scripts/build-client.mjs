#!/usr/bin/env node
/**
 * Builds the client SDK package (@parley/client): client/*.ts compiled by tsc with
 * client/tsconfig.json into client/dist as ES modules with type declarations, ready for
 * `npm pack` in client/.
 *
 * The SDK runs in browsers and in Node, so the build refuses any file of its program that is not
 * part of the package: no npm package, no Node built-in (`node:*` resolves to @types/node, which
 * is an npm package), no server module. It compiles with `types: []` and the DOM library, so a
 * Node global (process, Buffer) is a type error, and then checks every file tsc read: TypeScript's
 * own library files, client/, and the pure protocol modules the server shares with the SDK
 * (src/protocol/wire.ts and catalogue.ts: wire types and the error and close-code tables), which
 * are compiled into the package beside it (dist/src/protocol), so the tarball is self-contained.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// The repository to build from: this one, unless `--root <dir>` names another (the build's own
// test builds broken copies).
const rootArg = process.argv.indexOf('--root');
const root = rootArg === -1 ? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..') : path.resolve(process.argv[rootArg + 1] ?? '.');
const client = path.join(root, 'client');
const dist = path.join(client, 'dist');
// typescript's exports do not name its launcher; it is where npm installs it.
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
/** Where, inside the repository, the package's sources may come from. */
const ALLOWED = ['client/', 'src/protocol/'];

function main() {
  const started = Date.now();
  // Nothing stale ships: a source removed since the last build leaves no file behind.
  rmSync(dist, { recursive: true, force: true });
  let listed;
  try {
    listed = execFileSync(process.execPath, [tsc, '-p', path.join(client, 'tsconfig.json'), '--listFiles'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  } catch (error) {
    // tsc prints its diagnostics on stdout, among the files it lists.
    const diagnostics = `${error.stdout ?? ''}${error.stderr ?? ''}`.split('\n').filter((line) => line !== '' && !path.isAbsolute(line) && !line.startsWith('bundled:'));
    throw new Error(`tsc failed:\n${diagnostics.join('\n')}`);
  }
  const read = listed
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const outside = read.filter((file) => !isPackageFile(file));
  if (outside.length > 0) {
    throw new Error(
      `the SDK must import nothing outside its package (no npm package, no Node built-in, no server module), but it reads:\n${outside.map((f) => `  ${f}`).join('\n')}\n` +
        'See why with: npx tsc -p client/tsconfig.json --noEmit --explainFiles',
    );
  }
  const emitted = walk(dist);
  const bytes = emitted.filter((f) => f.endsWith('.js')).reduce((n, f) => n + statSync(f).size, 0);
  const sources = read.filter((f) => !isTypeScriptLibrary(f)).length;
  console.log(`client SDK built in ${Date.now() - started} ms: ${sources} sources, ${emitted.length} files in client/dist (${(bytes / 1024).toFixed(1)} KiB of JS)`);
}

/** A file tsc may read for the SDK: one of its own sources, or TypeScript's standard library. */
function isPackageFile(file) {
  if (isTypeScriptLibrary(file)) return true;
  const relative = path.relative(root, file).split(path.sep).join('/');
  if (relative.startsWith('../') || relative.split('/').includes('node_modules')) return false;
  return ALLOWED.some((dir) => relative.startsWith(dir)) && !relative.startsWith('client/dist/');
}

/** lib.*.d.ts of the TypeScript compiler (on disk in its package, or built into the binary). */
function isTypeScriptLibrary(file) {
  if (!/(^|[/\\])lib\.[\w.]+\.d\.ts$/.test(file)) return false;
  return file.startsWith('bundled:') || /[/\\]node_modules[/\\](@typescript[/\\][^/\\]+|typescript)[/\\]lib[/\\]/.test(file);
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? walk(full) : [full];
  });
}

try {
  main();
} catch (error) {
  // A failed build leaves nothing that could be packed.
  rmSync(dist, { recursive: true, force: true });
  console.error(`client SDK build failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
