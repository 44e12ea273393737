/**
 * The SDK build's guard (scripts/build-client.mjs): the package runs in browsers and Node, so a
 * source that reaches an npm package, a Node built-in, a Node global or a server module fails the
 * build, naming the cause, and leaves no build behind. Each case builds a copy of the SDK's
 * sources with one line added.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.join(ROOT, 'scripts', 'build-client.mjs');

describe('the SDK build refuses what would not run in a browser', () => {
  const copy = mkdtempSync(path.join(tmpdir(), 'parley-sdk-guard-'));
  const victim = path.join(copy, 'client', 'backoff.ts');
  let original: string;

  before(() => {
    cpSync(path.join(ROOT, 'client'), path.join(copy, 'client'), { recursive: true, filter: (from) => !from.includes(`${path.sep}dist`) });
    cpSync(path.join(ROOT, 'src', 'protocol'), path.join(copy, 'src', 'protocol'), { recursive: true });
    mkdirSync(path.join(copy, 'src', 'domain'));
    cpSync(path.join(ROOT, 'src', 'domain', 'types.ts'), path.join(copy, 'src', 'domain', 'types.ts'));
    for (const file of ['tsconfig.json', 'package.json']) cpSync(path.join(ROOT, file), path.join(copy, file));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
    original = readFileSync(victim, 'utf8');
  });

  after(() => rmSync(copy, { recursive: true, force: true }));

  /** Builds the copy with `line` added to one SDK source; resolves with the build's stderr. */
  async function buildWith(line: string): Promise<string> {
    writeFileSync(victim, original);
    appendFileSync(victim, `${line}\n`);
    try {
      await run(process.execPath, [BUILD, '--root', copy], { timeout: 60_000 });
    } catch (error) {
      assert.equal(existsSync(path.join(copy, 'client', 'dist')), false, 'no build is left behind');
      return (error as { stderr?: string }).stderr ?? '';
    }
    return assert.fail(`the build accepted: ${line}`);
  }

  it('builds the unchanged sources', async () => {
    writeFileSync(victim, original);
    const { stdout } = await run(process.execPath, [BUILD, '--root', copy], { timeout: 60_000 });
    assert.match(stdout, /client SDK built/);
    assert.ok(existsSync(path.join(copy, 'client', 'dist', 'client', 'index.js')));
    assert.ok(existsSync(path.join(copy, 'client', 'dist', 'client', 'index.d.ts')));
  });

  it('refuses an npm package', async () => {
    const stderr = await buildWith("export { z } from 'zod';");
    assert.match(stderr, /must import nothing outside its package/);
    assert.match(stderr, /node_modules\/zod\//);
  });

  it('refuses a Node built-in, even for its types', async () => {
    assert.match(await buildWith("export type { Readable } from 'node:stream';"), /client\/backoff\.ts\(\d+,\d+\): error TS\d+: .*node:stream/);
  });

  it('refuses a Node global', async () => {
    assert.match(await buildWith('export const environment = process.env;'), /client\/backoff\.ts\(\d+,\d+\): error TS\d+: Cannot find name 'process'/);
  });

  it('refuses a server module, even a pure one outside src/protocol', async () => {
    const stderr = await buildWith("export type { Visibility } from '../src/domain/types.js';");
    assert.match(stderr, /must import nothing outside its package/);
    assert.match(stderr, /src\/domain\/types\.ts/);
  });
});
