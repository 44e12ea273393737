/**
 * What the browser tests share: Debian's Chromium driven by playwright-core (its own download
 * cannot run here), launched the one way that works as root in a closed network, and the page
 * built from the current sources.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium } from 'playwright-core';
import type { Config } from '../../src/config.js';
import { startTestServer, type TestServer } from './server.js';

export const CHROMIUM = '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** Every wait of a browser test is bounded by this. */
export const WAIT_MS = 10_000;
export const WAIT = { timeout: WAIT_MS };
export const haveChromium = existsSync(CHROMIUM);

/** True when the browser tests can run; otherwise fails the test in CI and skips it elsewhere. */
export function needBrowser(t: TestContext): boolean {
  if (haveChromium) return true;
  if (process.env.CI === 'true') assert.fail(`Chromium is missing at ${CHROMIUM}: CI must install it (apt-get install -y chromium).`);
  t.skip(`Chromium is not installed at ${CHROMIUM} (apt-get install -y --no-install-recommends chromium): browser test skipped.`);
  return false;
}

/** Builds the web client from the current sources (the page under test). */
export function buildWeb(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-web.mjs')], { cwd: ROOT, stdio: 'pipe', timeout: 60_000 });
}

/** Headless Chromium without the background connections a closed network refuses. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

export interface BrowserHarness {
  /** The server under test (started before the file's tests). */
  server(): TestServer;
  /** A fresh browser profile, closed after the file's tests. */
  newContext(options: BrowserContextOptions): Promise<BrowserContext>;
}

/**
 * Registers the file's before and after hooks: the web client built, a server started with
 * `overrides`, Chromium launched; all of it stopped after. Nothing starts without Chromium
 * (each test then calls needBrowser).
 */
export function browserHarness(overrides: Partial<Config>): BrowserHarness {
  let server: TestServer | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  before(async () => {
    if (!haveChromium) return;
    buildWeb();
    server = await startTestServer(overrides);
    browser = await launchBrowser();
  });
  after(async () => {
    for (const context of contexts) await context.close().catch(() => {});
    await browser?.close();
    await server?.stop();
  });
  return {
    server() {
      assert.ok(server, 'the server is running');
      return server;
    },
    async newContext(options) {
      assert.ok(browser, 'the browser is running');
      const context = await browser.newContext(options);
      contexts.push(context);
      return context;
    },
  };
}
