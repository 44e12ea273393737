/**
 * The SDK as a package of its own, used the way another project uses it: built
 * (scripts/build-client.mjs), packed with `npm pack`, installed from the tarball into a temporary
 * project with no registry (offline, and the registry pointed at a closed port), compiled against
 * by tsc as a strict TypeScript project without Node types, and run against a live server under
 * Node and, from the same ESM build, in Chromium.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { launchBrowser, needBrowser } from '../support/browser.js';
import { api, createRoom, registerUser, startTestServer, type TestServer } from '../support/server.js';
import type { Outcome, Setup } from './consumer/main.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CONSUMER = path.join(ROOT, 'test', 'client', 'consumer');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const LIMITS = { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 };

interface PackResult {
  filename: string;
  files: { path: string }[];
}

describe('the SDK package, installed from its tarball into another project', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'parley-sdk-package-'));
  const project = path.join(work, 'project');
  const installed = path.join(project, 'node_modules', '@parley', 'client');
  // No registry: offline, with a cache of its own, and a registry address nothing listens on.
  // None of the settings of an npm running this test (`npm test` passes its own, local_prefix
  // among them, which would point npm at the repository instead of the temporary project).
  const npmEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key))),
    npm_config_cache: path.join(work, 'npm-cache'),
    npm_config_offline: 'true',
    npm_config_registry: 'http://127.0.0.1:9/',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
  let packed: PackResult;
  let server: TestServer | undefined;
  let browser: Browser | undefined;

  before(async () => {
    await run(process.execPath, [path.join(ROOT, 'scripts', 'build-client.mjs')], { cwd: ROOT, ...LIMITS });
    const pack = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: path.join(ROOT, 'client'), env: npmEnv, ...LIMITS });
    const results = JSON.parse(pack.stdout) as PackResult[];
    assert.equal(results.length, 1);
    packed = results[0] as PackResult;

    mkdirSync(project);
    writeFileSync(path.join(project, 'package.json'), `${JSON.stringify({ name: 'parley-sdk-consumer', private: true, type: 'module' }, null, 2)}\n`);
    await run('npm', ['install', '--ignore-scripts', path.join(work, packed.filename)], { cwd: project, env: npmEnv, ...LIMITS });
    for (const file of ['main.ts', 'run.mjs', 'tsconfig.json']) copyFileSync(path.join(CONSUMER, file), path.join(project, file));
    await tsc(project);

    server = await startTestServer({ SEND_RATE_PER_SEC: 1000, SEND_BURST: 1000 });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** Two members of a fresh room, for one run of the consumer program. */
  async function setup(prefix: string): Promise<Setup> {
    assert.ok(server, 'the server is running');
    const alice = await registerUser(server.url, `${prefix}a`);
    const bob = await registerUser(server.url, `${prefix}b`);
    const roomId = await createRoom(server.url, alice, 'public', `${prefix} room`);
    const joined = await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });
    assert.equal(joined.status, 200);
    return { baseUrl: server.url, alice: alice.token, bob: bob.token, roomId };
  }

  /** What the program must have seen, wherever it ran. */
  function checkOutcome(outcome: Outcome): void {
    assert.deepEqual(outcome.live, ['hello from the package', 'second']);
    assert.deepEqual(outcome.resumed, ['while away 1', 'while away 2'], 'the messages sent while away, once each, after resuming');
    const first = outcome.seqs[0] ?? 0;
    assert.deepEqual(outcome.seqs, [first, first + 1, first + 2, first + 3], 'gapless, in order, no duplicate');
    assert.equal(outcome.lastSeqAway, first + 1);
    assert.equal(outcome.lastSeqBack, first + 3);
    assert.deepEqual(outcome.history, ['hello from the package', 'second', 'while away 1', 'while away 2']);
    assert.deepEqual(outcome.error, { isParleyError: true, name: 'ParleyError', code: 'validation_failed', status: 400, source: 'ws' });
  }

  it('ships the ESM build, its type declarations and the README, with no dependency', () => {
    const files = packed.files.map((f) => f.path).sort();
    assert.ok(files.includes('README.md'));
    assert.ok(files.includes('dist/client/index.js'));
    assert.ok(files.includes('dist/client/index.d.ts'));
    assert.deepEqual(
      files.filter((f) => !f.startsWith('dist/') && f !== 'README.md' && f !== 'package.json'),
      [],
      'nothing but the build, the README and package.json',
    );
    assert.deepEqual(
      files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')),
      [],
      'no TypeScript source',
    );
    const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'));
    assert.equal(manifest.name, '@parley/client');
    assert.equal(manifest.type, 'module');
    assert.equal(manifest.sideEffects, false);
    assert.deepEqual(manifest.exports['.'], { types: './dist/client/index.d.ts', import: './dist/client/index.js' });
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) assert.equal(manifest[field], undefined, `no ${field}`);
    const lock = JSON.parse(readFileSync(path.join(project, 'package-lock.json'), 'utf8'));
    assert.deepEqual(Object.keys(lock.packages).sort(), ['', 'node_modules/@parley/client'], 'the install brought nothing else');
  });

  it('types the API for a strict TypeScript project: a wrong call does not compile', async () => {
    // The program of before() compiled; this one, in a directory of the same project (so it
    // resolves the package from the project's node_modules), passes a number as a message body.
    const wrong = path.join(project, 'wrong');
    mkdirSync(wrong);
    writeFileSync(path.join(wrong, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.json', compilerOptions: { rootDir: '.', outDir: 'out' }, include: ['wrong.ts'] }));
    writeFileSync(
      path.join(wrong, 'wrong.ts'),
      "import { ParleyClient } from '@parley/client';\n\nexport const sent = new ParleyClient({ baseUrl: 'http://localhost' }).send('room', 42);\n",
    );
    await assert.rejects(tsc(wrong), /wrong\.ts\(3,\d+\): error TS2345: Argument of type 'number' is not assignable to parameter of type 'string'/);
  });

  it("compiles the README's examples against the package's types", async () => {
    const blocks = [...readFileSync(path.join(installed, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    assert.ok(blocks.length >= 6, 'connect, subscribe, send, resume, history and errors have examples');
    const examples = path.join(project, 'readme');
    mkdirSync(examples);
    writeFileSync(path.join(examples, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.json', compilerOptions: { noEmit: true }, include: ['*.ts'] }));
    blocks.forEach((code, i) => {
      // Each example is a module of its own; the names it uses without defining them are declared.
      const prelude = [
        "import type * as Parley from '@parley/client';",
        /\bconst client\b/.test(code) ? '' : 'declare const client: Parley.ParleyClient;',
        'declare const roomId: string;',
        'declare function render(messages: Parley.Message[]): void;',
        'export {};',
      ];
      writeFileSync(path.join(examples, `example-${i + 1}.ts`), `${prelude.join('\n')}\n${code}`);
    });
    await tsc(examples);
  });

  it('runs under Node against a live server: send, receive, resume after a disconnect, history, typed errors', async () => {
    // Node 20 has its WebSocket behind a flag (global from Node 22); the program uses the global one.
    const { stdout } = await run(process.execPath, ['--experimental-websocket', '--no-warnings', 'run.mjs', JSON.stringify(await setup('pkgnode'))], { cwd: project, ...LIMITS });
    checkOutcome(JSON.parse(stdout) as Outcome);
  });

  it('runs in Chromium from the same ESM build, against the same server', async (t) => {
    if (!needBrowser(t)) return;
    assert.ok(server, 'the server is running');
    browser = await launchBrowser();
    const page = await (await browser.newContext()).newPage();
    const problems: string[] = [];
    const consoleLog: string[] = [];
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
    page.on('console', (message) => {
      consoleLog.push(`${message.type()}: ${message.text()}`);
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    // The page is a document of the server's (loopback, so Chromium lets it open sockets to the
    // server, and the SDK's calls are same-origin); /sdk/… on the same origin is served by the test,
    // not the server: the temporary project's directory. An import map resolves the package by name
    // to the entry its exports map names, as a bundler would.
    const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'));
    const entry = `/sdk/node_modules/@parley/client/${String(manifest.exports['.'].import).replace(/^\.\//, '')}`;
    await page.route(`${server.url}/sdk/**`, async (route) => {
      const file = path.resolve(project, decodeURIComponent(new URL(route.request().url()).pathname.slice('/sdk/'.length)));
      if (!file.startsWith(`${project}${path.sep}`) || !existsSync(file)) return route.fulfill({ status: 404 });
      const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.map') ? 'application/json' : 'application/octet-stream';
      return route.fulfill({ contentType: type, body: readFileSync(file) });
    });
    await page.goto(`${server.url}/healthz`);
    await page.evaluate((imports) => {
      const map = document.createElement('script');
      map.type = 'importmap';
      map.textContent = JSON.stringify({ imports });
      document.head.append(map);
    }, { '@parley/client': entry });
    const config = await setup('pkgweb');
    // page.evaluate has no timeout of its own.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the program did not finish in Chromium; its console:\n${consoleLog.join('\n')}`)), 30_000);
    });
    const program = page.evaluate(`import('/sdk/out/main.js').then((program) => program.run(${JSON.stringify(config)}))`);
    const outcome = (await Promise.race([program, timedOut]).finally(() => clearTimeout(timer))) as Outcome;
    checkOutcome(outcome);
    assert.deepEqual(problems, []);
  });
});

/** Compiles a project with the repository's tsc; rejects with tsc's diagnostics. */
async function tsc(dir: string): Promise<void> {
  try {
    await run(process.execPath, [TSC, '-p', path.join(dir, 'tsconfig.json')], { cwd: dir, ...LIMITS });
  } catch (error) {
    // tsc prints its diagnostics on stdout.
    throw new Error(`tsc -p ${dir} failed:\n${(error as { stdout?: string }).stdout ?? ''}`, { cause: error });
  }
}
