/**
 * What the web app's browser suites share: a page per person (their own browser profile) that
 * records every console error and CSP violation, signing up through the page, and locators for
 * the app's main parts. Built on browser.ts's harness (a server and Chromium per file).
 */
import assert from 'node:assert/strict';
import type { BrowserContext, BrowserContextOptions, Locator, Page } from 'playwright-core';
import { type BrowserHarness, WAIT, WAIT_MS } from './browser.js';
import { api } from './server.js';

export const PASSWORD = 'correct horse battery';
export const DESKTOP = { width: 1100, height: 720 };
export const PHONE = { width: 390, height: 780 };

export interface Person {
  page: Page;
  context: BrowserContext;
  username: string;
  displayName: string;
}

export interface WebApp {
  /** Console errors and CSP violations of every page so far (expected failed requests aside). */
  problems: string[];
  /** A fresh profile with the app open, not signed in. */
  open(label: string, options?: BrowserContextOptions & { prepare?: (context: BrowserContext) => Promise<unknown> }): Promise<{ page: Page; context: BrowserContext }>;
  /** A fresh profile, signed up through the sign-up form and connected. */
  person(prefix: string, displayName: string, options?: BrowserContextOptions & { prepare?: (context: BrowserContext) => Promise<unknown> }): Promise<Person>;
  /** A session token for REST calls made by the test as that person. */
  token(username: string): Promise<string>;
}

let unique = Date.now() % 100_000;

/** Requests that fail by design: GET /me before signing in, a wrong password. */
const EXPECTED_FAILURES = [/\/api\/v1\/me$/, /\/api\/v1\/auth\/login$/];

export function webApp(harness: BrowserHarness, expectedFailures: RegExp[] = []): WebApp {
  const problems: string[] = [];
  const url = () => harness.server().url;
  const open: WebApp['open'] = async (label, { prepare, ...options } = {}) => {
    const context = await harness.newContext({ viewport: DESKTOP, ...options });
    context.setDefaultTimeout(WAIT_MS);
    await prepare?.(context);
    const page = await context.newPage();
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (event) => {
        console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
      });
    });
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const where = message.location().url;
      const expected = message.text().startsWith('Failed to load resource') && [...EXPECTED_FAILURES, ...expectedFailures].some((re) => re.test(where));
      if (!expected) problems.push(`${label}: console error: ${message.text()} (${where})`);
    });
    page.on('pageerror', (error) => problems.push(`${label}: uncaught: ${error.message}`));
    await page.goto(url());
    return { page, context };
  };
  return {
    problems,
    open,
    async person(prefix, displayName, options) {
      const { page, context } = await open(prefix, options);
      const username = `${prefix}${++unique}`;
      await page.getByTestId('show-register').click();
      await page.getByTestId('username').fill(username);
      await page.getByTestId('password').fill(PASSWORD);
      await page.getByTestId('display-name').fill(displayName);
      await page.getByTestId('register').click();
      await connected(page);
      return { page, context, username, displayName };
    },
    async token(username) {
      const res = await api(url(), 'POST', '/api/v1/auth/login', { body: { username, password: PASSWORD } });
      assert.equal(res.status, 200);
      return res.body.token as string;
    },
  };
}

/**
 * The app's WebSocket is open. Bounded at 30 s, not the 10 s of one step: after a sign-up it
 * covers the password hash, the app's first load and the upgrade with its session checks, which
 * a full suite on two shared cores once took past 10 s (the state it was left in is reported).
 */
export async function connected(page: Page): Promise<void> {
  const state = page.getByTestId('connection-state');
  try {
    await page.locator('[data-testid="connection-state"][data-state="open"]').waitFor({ state: 'visible', timeout: 30_000 });
  } catch (error) {
    const seen = await state.getAttribute('data-state', { timeout: 1_000 }).catch(() => 'absent');
    throw new Error(`the app's connection did not open within 30 s (its state: ${seen})`, { cause: error });
  }
}

export const messages = (page: Page): Locator => page.getByTestId('message-list').getByTestId('message');
export const message = (page: Page, text: string | RegExp): Locator => messages(page).filter({ has: page.getByTestId('message-body').filter({ hasText: text }) });
export const roomItem = (page: Page, name: string): Locator => page.getByTestId('room-item').filter({ hasText: name });
export const openRoomPane = (page: Page, heading: string): Locator => page.getByTestId('room').filter({ has: page.getByRole('heading', { name: heading }) });

export async function createRoom(page: Page, name: string, visibility: 'public' | 'private' = 'public'): Promise<string> {
  await page.getByTestId('create-room-name').fill(name);
  await page.getByTestId('create-room-visibility').selectOption(visibility);
  await page.getByTestId('create-room-submit').click();
  const pane = openRoomPane(page, `${visibility === 'public' ? '#' : '🔒'} ${name}`);
  await pane.waitFor(WAIT);
  const roomId = await pane.getAttribute('data-room-id');
  assert.ok(roomId);
  return roomId;
}

export async function joinFromDiscover(page: Page, name: string): Promise<void> {
  await page.getByTestId('discover-search').fill(name);
  await page.getByTestId('public-room').filter({ hasText: name }).getByTestId('join').click();
  await openRoomPane(page, `# ${name}`).waitFor(WAIT);
}

export async function say(page: Page, text: string): Promise<void> {
  await page.getByTestId('composer').fill(text);
  await page.getByTestId('composer').press('Enter');
  await message(page, text).and(page.locator('[data-seq]:not(.pending)')).waitFor(WAIT);
}

/** Polls `check` until it holds, for at most WAIT_MS. */
export async function eventually(what: string, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`still not true after ${WAIT_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until the focused element has this data-testid: focus often moves in an effect after the render. */
export async function focused(page: Page, testId: string): Promise<void> {
  try {
    await page.waitForFunction((id) => document.activeElement?.getAttribute('data-testid') === id, testId, WAIT);
  } catch {
    const now = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 200) ?? 'nothing');
    assert.fail(`focus is not on ${testId} after ${WAIT_MS} ms but on ${now}`);
  }
}

/** True when the element is within its list's visible area (isVisible only says it could be seen). */
export function inView(locator: Locator): Promise<boolean> {
  return locator.evaluate((el) => {
    const list = el.closest('[data-testid="message-list"]') ?? document.documentElement;
    const box = el.getBoundingClientRect();
    const view = list.getBoundingClientRect();
    return box.bottom > view.top && box.top < view.bottom;
  });
}
