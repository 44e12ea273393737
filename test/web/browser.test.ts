/**
 * The web client in a real browser (Chromium through playwright-core) against a real server:
 * sign up, create, discover and join rooms, talk live between two people, edits and deletes,
 * unread counts, older history loaded by scrolling up, logging out and back in, and text that
 * stays text. The page must run under the server's Content-Security-Policy without a console
 * error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BrowserContext, Locator, Page, WebSocketRoute } from 'playwright-core';
import { browserHarness, needBrowser, WAIT, WAIT_MS } from '../support/browser.js';
import { api, createRoom, registerUser } from '../support/server.js';

const PASSWORD = 'correct horse battery';
const EXPECTED_401 = ['/api/v1/me', '/api/v1/auth/login'];

const harness = browserHarness({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000, AUTH_RATE_PER_MIN: 10_000 });
const url = (): string => harness.server().url;
const problems: string[] = [];
let unique = Date.now() % 100_000;

/** A fresh browser profile (its own cookies) with a page that reports every console error and CSP violation. */
async function newPage(label: string, prepare?: (context: BrowserContext) => Promise<void>): Promise<{ context: BrowserContext; page: Page }> {
  const context = await harness.newContext({ viewport: { width: 1100, height: 720 } });
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
    // GET /me answers 401 when nobody is signed in, and a wrong password gets 401 from login, by
    // design; Chromium logs every failed request as an error.
    const expected = message.text().startsWith('Failed to load resource') && EXPECTED_401.some((route) => message.location().url.endsWith(route));
    if (!expected) problems.push(`${label}: console error: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`${label}: uncaught: ${error.message}`));
  await page.goto(url());
  return { context, page };
}

async function signUp(page: Page, prefix: string, displayName: string): Promise<string> {
  const username = `${prefix}${++unique}`;
  await page.getByTestId('show-register').click();
  await page.getByTestId('username').fill(username);
  await page.getByTestId('password').fill(PASSWORD);
  await page.getByTestId('display-name').fill(displayName);
  await page.getByTestId('register').click();
  await connected(page);
  return username;
}

async function connected(page: Page): Promise<void> {
  await page.locator('[data-testid="connection-state"][data-state="open"]').waitFor(WAIT);
  assert.equal(await page.getByTestId('connection-state').textContent(), 'connected');
}

const messages = (page: Page): Locator => page.getByTestId('message-list').getByTestId('message');
const message = (page: Page, text: string | RegExp): Locator => messages(page).filter({ has: page.getByTestId('message-body').filter({ hasText: text }) });
const roomItem = (page: Page, name: string): Locator => page.getByTestId('room-item').filter({ hasText: name });

async function openRoom(page: Page, name: string): Promise<void> {
  await roomItem(page, name).getByRole('link').click();
  await page.getByTestId('room').filter({ has: page.getByRole('heading', { name: `# ${name}` }) }).waitFor(WAIT);
}

async function joinFromDiscover(page: Page, name: string): Promise<void> {
  await page.getByTestId('discover-search').fill(name);
  await page.getByTestId('public-room').filter({ hasText: name }).getByTestId('join').click();
  await page.getByTestId('room').filter({ has: page.getByRole('heading', { name: `# ${name}` }) }).waitFor(WAIT);
}

/** Polls `check` until it holds, for at most WAIT_MS. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`still not true after ${WAIT_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function tokenFor(username: string): Promise<string> {
  const res = await api(url(), 'POST', '/api/v1/auth/login', { body: { username, password: PASSWORD } });
  assert.equal(res.status, 200);
  return res.body.token as string;
}

test('the page is served with its CSP, and hashed assets are cacheable', async (t) => {
  if (!needBrowser(t)) return;
  const res = await fetch(url(), { signal: AbortSignal.timeout(WAIT_MS) });
  assert.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /style-src 'self'/);
  assert.equal(res.headers.get('cache-control'), 'no-cache');
  const html = await res.text();
  assert.doesNotMatch(html, /<script>|<style|\sstyle=/, 'no inline script or style');
  const script = /<script type="module" src="(\/assets\/main\.[\w-]+\.js)"><\/script>/.exec(html)?.[1];
  const style = /<link rel="stylesheet" href="(\/assets\/style\.[\w-]+\.css)"/.exec(html)?.[1];
  assert.ok(script, 'index.html names its hashed script');
  assert.ok(style, 'index.html names its hashed stylesheet');
  for (const asset of [script, style]) {
    const res = await fetch(`${url()}${asset}`, { signal: AbortSignal.timeout(WAIT_MS) });
    assert.equal(res.status, 200, asset);
    assert.match(res.headers.get('cache-control') ?? '', /immutable/, asset);
    await res.arrayBuffer();
  }
});

test('two people talk live: text stays text, pending turns acknowledged, edits, deletes, typing, unread', async (t) => {
  if (!needBrowser(t)) return;
  // Alice's socket goes through a route: server frames can be held back (to see her message
  // pending before its acknowledgement) and the socket can be dropped.
  let holding = false;
  const held: Array<() => void> = [];
  let aliceSocket: WebSocketRoute | undefined;
  const { page: alice } = await newPage('alice', (context) =>
    context.routeWebSocket(/\/ws(\?|$)/, (ws) => {
      aliceSocket = ws;
      const upstream = ws.connectToServer();
      upstream.onMessage((frame) => {
        if (holding) held.push(() => ws.send(frame));
        else ws.send(frame);
      });
    }),
  );

  const aliceName = await signUp(alice, 'alice', 'Alice <script>');
  await alice.getByTestId('create-room-name').fill('Garden');
  await alice.getByTestId('create-room-visibility').selectOption('public');
  await alice.getByTestId('create-room-submit').click();
  await alice.getByTestId('room').filter({ has: alice.getByRole('heading', { name: '# Garden' }) }).waitFor(WAIT);
  await roomItem(alice, 'Garden').waitFor(WAIT);

  const { page: bob } = await newPage('bob');
  await signUp(bob, 'bob', 'Bob');
  await joinFromDiscover(bob, 'Garden');
  await roomItem(bob, 'Garden').waitFor(WAIT);
  await alice.getByTestId('notice').filter({ hasText: 'Bob joined the room' }).waitFor(WAIT);

  // Typing shows on the other side.
  await bob.getByTestId('composer').fill('hel');
  await alice.getByTestId('typing').filter({ hasText: 'Bob is typing…' }).waitFor(WAIT);
  await bob.getByTestId('composer').fill('');

  // Alice's message is pending until the server's acknowledgement reaches her page.
  holding = true;
  const text = 'hello <b>bob</b> <img src=x onerror=alert(1)>';
  await alice.getByTestId('composer').fill(text);
  await alice.getByTestId('composer').press('Enter');
  const mine = message(alice, text);
  await mine.and(alice.locator('.pending')).waitFor(WAIT);
  assert.equal(await mine.getAttribute('data-seq'), null, 'a pending message has no seq yet');
  holding = false;
  for (const release of held.splice(0)) release();
  await mine.and(alice.locator('[data-seq]:not(.pending)')).waitFor(WAIT);
  assert.equal(await mine.count(), 1, 'the acknowledged message replaced its pending row');

  // Bob sees it live, as text: no element was made from it.
  const seen = message(bob, text);
  await seen.waitFor(WAIT);
  assert.equal(await seen.getByTestId('message-body').textContent(), text);
  assert.equal(await seen.getByTestId('message-author').textContent(), 'Alice <script>');
  assert.equal(await bob.locator('[data-testid="message-list"] b, [data-testid="message-list"] img, [data-testid="message-list"] script').count(), 0, 'markup was interpreted');
  assert.equal(await seen.getAttribute('data-seq'), await mine.getAttribute('data-seq'));

  await bob.getByTestId('composer').fill('hi Alice');
  await bob.getByTestId('send').click();
  await message(alice, 'hi Alice').and(alice.locator('[data-seq]')).waitFor(WAIT);
  await message(bob, 'hi Alice').and(bob.locator('[data-seq]:not(.pending)')).waitFor(WAIT);

  // Edits replace the text in place; deletes leave a tombstone.
  const aliceToken = await tokenFor(aliceName);
  const roomId = await alice.getByTestId('room').getAttribute('data-room-id');
  const seq = await mine.getAttribute('data-seq');
  assert.ok(roomId && seq);
  const edited = await api(url(), 'PATCH', `/api/v1/rooms/${roomId}/messages/${seq}`, { token: aliceToken, body: { body: 'hello bob, edited' } });
  assert.equal(edited.status, 200);
  const editedRow = bob.locator(`[data-testid="message"][data-seq="${seq}"]`);
  await editedRow.getByTestId('message-body').filter({ hasText: 'hello bob, edited' }).waitFor(WAIT);
  await editedRow.getByTestId('edited').filter({ hasText: '(edited)' }).waitFor(WAIT);
  const deleted = await api(url(), 'DELETE', `/api/v1/rooms/${roomId}/messages/${seq}`, { token: aliceToken });
  assert.equal(deleted.status, 204);
  await editedRow.getByTestId('message-body').filter({ hasText: 'message deleted' }).waitFor(WAIT);
  await alice.locator(`[data-testid="message"][data-seq="${seq}"]`).getByTestId('message-body').filter({ hasText: 'message deleted' }).waitFor(WAIT);

  // Unread: Alice opens another room; Bob writes in the first.
  await alice.getByTestId('create-room-name').fill('Kitchen');
  await alice.getByTestId('create-room-visibility').selectOption('private');
  await alice.getByTestId('create-room-submit').click();
  await alice.getByTestId('room').filter({ has: alice.getByRole('heading', { name: '🔒 Kitchen' }) }).waitFor(WAIT);
  await bob.getByTestId('composer').fill('are you there?');
  await bob.getByTestId('composer').press('Enter');
  await bob.getByTestId('composer').fill('still there?');
  await bob.getByTestId('composer').press('Enter');
  await roomItem(alice, 'Garden').getByTestId('unread').filter({ hasText: /^2$/ }).waitFor(WAIT);
  assert.equal(await roomItem(alice, 'Kitchen').getByTestId('unread').count(), 0);
  await openRoom(alice, 'Garden');
  await message(alice, 'still there?').waitFor(WAIT);
  await roomItem(alice, 'Garden').getByTestId('unread').waitFor({ state: 'detached', ...WAIT });

  // The read marker is saved on the server: a reload shows no unread count for Garden.
  await eventually('the server counts nothing unread in Garden for Alice', async () => {
    const res = await api(url(), 'GET', '/api/v1/rooms', { token: aliceToken });
    return res.body.rooms.some((room: { id: string; unread: number }) => room.id === roomId && room.unread === 0);
  });
  await alice.reload();
  await connected(alice);
  await roomItem(alice, 'Garden').waitFor(WAIT);
  assert.equal(await roomItem(alice, 'Garden').getByTestId('unread').count(), 0);

  // The connection indicator follows the socket: it drops, the client reconnects and resumes.
  await alice.getByTestId('connection-state').evaluate((el) => {
    const seen: string[] = [];
    Object.assign(window, { connectionStates: seen });
    new MutationObserver(() => seen.push(el.getAttribute('data-state') ?? '')).observe(el, { attributeFilter: ['data-state'] });
  });
  assert.ok(aliceSocket);
  await aliceSocket.close({ code: 1012, reason: 'service restart' });
  await alice.waitForFunction(
    () => {
      const seen = (window as unknown as { connectionStates: string[] }).connectionStates;
      return seen.includes('reconnecting') && seen.at(-1) === 'open';
    },
    undefined,
    WAIT,
  );
  assert.equal(await alice.getByTestId('connection-state').textContent(), 'connected');
  await openRoom(alice, 'Garden');
  await bob.getByTestId('composer').fill('welcome back');
  await bob.getByTestId('composer').press('Enter');
  await message(alice, 'welcome back').waitFor(WAIT);
});

test('scrolling up loads older pages of history, keeping the reader in place', async (t) => {
  if (!needBrowser(t)) return;
  const owner = await registerUser(url(), 'hist');
  const roomId = await createRoom(url(), owner, 'public', 'Archive');
  for (let i = 1; i <= 120; i++) {
    const res = await api(url(), 'POST', `/api/v1/rooms/${roomId}/messages`, { token: owner.token, body: { body: `old message ${i}` } });
    assert.equal(res.status, 201);
  }

  const { page: carol } = await newPage('carol');
  await signUp(carol, 'carol', 'Carol');
  await joinFromDiscover(carol, 'Archive');
  await message(carol, /^old message 120$/).waitFor(WAIT);
  const firstPage = await messages(carol).count();
  assert.ok(firstPage >= 50 && firstPage < 120, `the first page holds ${firstPage} messages`);

  const list = carol.getByTestId('message-list');
  const oldest = message(carol, /^old message 1$/);
  for (let round = 0; round < 5 && (await oldest.count()) === 0; round++) {
    const shown = await messages(carol).count();
    const anchorSeq = await messages(carol).first().getAttribute('data-seq');
    assert.ok(anchorSeq);
    const anchor = carol.locator(`[data-testid="message"][data-seq="${anchorSeq}"]`);
    const offset = () => anchor.evaluate((row) => row.getBoundingClientRect().top - (row.parentElement as HTMLElement).getBoundingClientRect().top);
    await list.evaluate((el) => {
      el.scrollTop = 0;
    });
    const before = await offset();
    await carol.waitForFunction((n) => document.querySelectorAll('[data-testid="message"]').length > n, shown, WAIT);
    assert.ok(Math.abs((await offset()) - before) < 2, 'the message read before stays where it was on screen');
  }
  await oldest.waitFor(WAIT);
  await carol.getByTestId('history-edge').filter({ hasText: 'beginning of the room' }).waitFor(WAIT);

  const seqs = await messages(carol).evaluateAll((rows) => rows.map((row) => Number((row as HTMLElement).dataset.seq)));
  assert.equal(seqs.length, 120);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'messages are in seq order');
  assert.equal(new Set(seqs).size, 120, 'no message twice');
  assert.equal(await messages(carol).first().getByTestId('message-body').textContent(), 'old message 1');
});

test('logging out ends the session; logging in resumes it, and so does a reload', async (t) => {
  if (!needBrowser(t)) return;
  const { page } = await newPage('dave');
  const username = await signUp(page, 'dave', 'Dave');
  await page.getByTestId('create-room-name').fill('Porch');
  await page.getByTestId('create-room-submit').click();
  await roomItem(page, 'Porch').waitFor(WAIT);

  await page.getByTestId('logout').click();
  await page.getByTestId('login').waitFor(WAIT);
  await page.reload();
  await page.getByTestId('login').waitFor(WAIT);

  await page.getByTestId('username').fill(username);
  await page.getByTestId('password').fill('wrong password!');
  await page.getByTestId('login').click();
  await page.getByTestId('auth-error').filter({ hasText: /\S/ }).waitFor(WAIT);

  await page.getByTestId('password').fill(PASSWORD);
  await page.getByTestId('login').click();
  await connected(page);
  await roomItem(page, 'Porch').waitFor(WAIT);
  await page.reload();
  await connected(page);
  assert.equal(await page.getByTestId('me').textContent(), 'Dave');
  await roomItem(page, 'Porch').waitFor(WAIT);
});

test('no console errors and no CSP violations on any page', (t) => {
  if (!needBrowser(t)) return;
  assert.deepEqual(problems, []);
});
