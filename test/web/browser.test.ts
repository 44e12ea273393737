/**
 * The web client in a real browser (Chromium through playwright-core) against a real server:
 * sign up, create and join rooms, talk live between two people, read older history by
 * scrolling, and see that text is rendered as text, never as HTML. The page must run under
 * the server's Content-Security-Policy without a console error.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { api, createRoom, registerUser, startTestServer, type TestServer } from '../support/server.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const WAIT = { timeout: 10_000 };

if (CHROMIUM === undefined) {
  if (process.env.CI === 'true') {
    it('the browser tests need Chromium in CI', () => {
      throw new Error('Chromium is not installed (apt-get install chromium)');
    });
  } else {
    it('web client in a real browser', (t) => t.skip('Chromium is not installed (apt-get install chromium)'));
  }
} else {
  describe('web client in Chromium', { concurrency: false }, () => {
    let server: TestServer;
    let browser: Browser;
    const contexts: BrowserContext[] = [];
    const problems: string[] = [];

    async function newPage(): Promise<Page> {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      page.on('console', (msg) => {
        // Before sign-in, GET /me answers 401 by design; the browser logs that as an error.
        const expected = msg.text().startsWith('Failed to load resource') && msg.location().url.endsWith('/api/v1/me');
        if (msg.type() === 'error' && !expected) problems.push(`console error: ${msg.text()} (${msg.location().url})`);
      });
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      await page.goto(server.url);
      return page;
    }

    async function signUp(page: Page, username: string, displayName: string): Promise<void> {
      await page.getByTestId('username').fill(username);
      await page.getByTestId('password').fill('correct horse battery');
      await page.getByTestId('display-name').fill(displayName);
      await page.getByTestId('register').click();
      await page.getByTestId('connection-state').filter({ hasText: 'open' }).waitFor(WAIT);
    }

    const messages = (page: Page) => page.getByTestId('message-list').getByTestId('message');

    before(async () => {
      server = await startTestServer({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000 });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
      });
    });

    after(async () => {
      for (const context of contexts) await context.close();
      await browser?.close();
      await server?.stop();
    });

    it('serves the page with its CSP and cacheable hashed assets', async () => {
      const res = await fetch(server.url);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.equal(res.headers.get('cache-control'), 'no-cache');
      const html = await res.text();
      const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
      assert.ok(script, 'index.html names its script');
      const asset = await fetch(`${server.url}${script}`);
      assert.equal(asset.status, 200);
      assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    });

    it('two people talk live; text stays text; pending turns acknowledged', async () => {
      const alice = await newPage();
      await signUp(alice, `alice${Date.now() % 100000}`, 'Alice');
      await alice.getByTestId('create-room-name').fill('Garden');
      await alice.getByTestId('create-room-submit').click();
      await alice.getByTestId('room').waitFor(WAIT);

      const bob = await newPage();
      await signUp(bob, `bob${Date.now() % 100000}`, 'Bob');
      await bob.getByTestId('discover-search').fill('Garden');
      const listing = bob.getByTestId('public-room').filter({ hasText: 'Garden' });
      await listing.getByTestId('join').click();
      await bob.getByTestId('room').waitFor(WAIT);

      await alice.getByTestId('composer').fill('hello <b>bob</b> <img src=x onerror=alert(1)>');
      await alice.getByTestId('composer').press('Enter');
      const seenByBob = messages(bob).filter({ hasText: 'hello <b>bob</b>' });
      await seenByBob.waitFor(WAIT);
      assert.equal(await seenByBob.getByTestId('message-body').textContent(), 'hello <b>bob</b> <img src=x onerror=alert(1)>');
      assert.equal(await bob.locator('[data-testid="message-body"] b, [data-testid="message-body"] img').count(), 0, 'markup was interpreted');
      assert.equal(await seenByBob.getByTestId('message-author').textContent(), 'Alice');
      await messages(alice).filter({ hasText: 'hello' }).and(alice.locator(':not(.pending)')).waitFor(WAIT);

      await bob.getByTestId('composer').fill('hi Alice');
      await bob.getByTestId('send').click();
      await messages(alice).filter({ hasText: 'hi Alice' }).waitFor(WAIT);
      await bob.getByTestId('typing').isVisible();

      // Unread: Alice has a second room open; Bob writes in the first.
      await alice.getByTestId('create-room-name').fill('Kitchen');
      await alice.getByTestId('create-room-submit').click();
      await alice.getByTestId('room').filter({ hasText: 'Kitchen' }).waitFor(WAIT);
      await bob.getByTestId('composer').fill('are you there?');
      await bob.getByTestId('composer').press('Enter');
      await alice.getByTestId('room-item').filter({ hasText: 'Garden' }).getByTestId('unread').filter({ hasText: '1' }).waitFor(WAIT);
    });

    it('scrolling up loads older pages of history', async () => {
      const owner = await registerUser(server.url, 'hist');
      const roomId = await createRoom(server.url, owner, 'public', 'History');
      for (let i = 1; i <= 120; i++) {
        const res = await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: owner.token, body: { body: `old message ${i}` } });
        assert.equal(res.status, 201);
      }
      const reader = await newPage();
      await signUp(reader, `reader${Date.now() % 100000}`, 'Reader');
      await reader.getByTestId('discover-search').fill('History');
      await reader.getByTestId('public-room').filter({ hasText: 'History' }).getByTestId('join').click();
      await messages(reader).filter({ hasText: 'old message 120' }).waitFor(WAIT);
      assert.equal(await messages(reader).count(), 50);
      const list = reader.getByTestId('message-list');
      for (let i = 0; i < 6 && (await messages(reader).filter({ hasText: /old message 1$/ }).count()) === 0; i++) {
        await list.evaluate((el) => {
          el.scrollTop = 0;
        });
        await reader.waitForTimeout(300);
      }
      await messages(reader).filter({ hasText: /old message 1$/ }).waitFor(WAIT);
      assert.equal(await messages(reader).count(), 120);
      const seqs = await list.locator('[data-testid="message"]').evaluateAll((rows) => rows.map((r) => Number((r as HTMLElement).dataset.seq)));
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'messages are in seq order');
    });

    it('ran without console errors or CSP violations', () => {
      assert.deepEqual(problems, []);
    });
  });
}
