/**
 * The XSS corpus through the whole page: every payload posted as a message is shown by the web
 * app (Markdown through the shared renderer) and found by its search, in Chromium under the
 * server's CSP, and none of it runs, makes an element the renderer does not write, an event
 * handler, a style, or a link other than http(s), mailto or the app's own addresses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { XSS_CORPUS } from '../protocol/xss-corpus.js';
import { browserHarness, needBrowser, WAIT } from '../support/browser.js';
import { api } from '../support/server.js';
import { createRoom, eventually, message, webApp } from '../support/web-app.js';

const harness = browserHarness({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000, AUTH_RATE_PER_MIN: 10_000 });
const web = webApp(harness);
const url = (): string => harness.server().url;

/** Records any dialog a payload would open, before the app's script runs. */
const TRAP = `
  window.xssFired = [];
  for (const name of ['alert', 'confirm', 'prompt']) window[name] = (value) => { window.xssFired.push(name + ':' + String(value)); };
`;

/** Elements the renderer and the app write in the message list and the search results. */
const ALLOWED = new Set(['LI', 'DIV', 'SPAN', 'P', 'BR', 'EM', 'STRONG', 'DEL', 'CODE', 'PRE', 'BLOCKQUOTE', 'UL', 'OL', 'A', 'TIME', 'MARK', 'BUTTON', 'SECTION', 'HEADER', 'H2']);

/** Everything wrong under `selector`: unexpected elements, handlers, styles and links. */
function offences(page: Page, selector: string): Promise<string[]> {
  return page.evaluate(
    ([root, allowed]) => {
      const found: string[] = [];
      for (const scope of document.querySelectorAll(root)) {
        for (const el of scope.querySelectorAll('*')) {
          if (!allowed.includes(el.tagName)) found.push(`element ${el.tagName}`);
          for (const attr of el.attributes) {
            if (/^on/i.test(attr.name)) found.push(`handler ${attr.name} on ${el.tagName}`);
            if (attr.name === 'style') found.push(`style on ${el.tagName}`);
          }
          const href = el.getAttribute('href');
          if (href !== null && !/^(https?:|mailto:|#\/)/i.test(href)) found.push(`href ${href}`);
        }
      }
      return found;
    },
    [selector, [...ALLOWED]] as const,
  );
}

test('the XSS corpus, posted as messages, shows as inert text in the room and in search', async (t) => {
  if (!needBrowser(t)) return;
  const alice = await web.person('alice', 'Alice', { prepare: (context) => context.addInitScript({ content: TRAP }) });
  const roomId = await createRoom(alice.page, 'Corpus');
  const token = await web.token(alice.username);
  let posted = 0;
  for (const payload of XSS_CORPUS) {
    const res = await api(url(), 'POST', `/api/v1/rooms/${roomId}/messages`, { token, body: { body: `xsscase ${payload}` } });
    // The server's text rules refuse some (control characters): those never reach a page.
    if (res.status === 201) posted++;
    else assert.equal(res.status, 400, payload);
  }
  assert.ok(posted > XSS_CORPUS.length / 2, `${posted} of ${XSS_CORPUS.length} payloads were stored`);
  await api(url(), 'POST', `/api/v1/rooms/${roomId}/messages`, { token, body: { body: 'end of corpus' } });
  await message(alice.page, 'end of corpus').waitFor(WAIT);

  // Scroll to the top until every stored payload is on the page.
  const list = alice.page.getByTestId('message-list');
  await eventually('every payload is shown', async () => {
    await list.evaluate((el) => {
      el.scrollTop = 0;
    });
    return (await alice.page.getByTestId('message-body').filter({ hasText: 'xsscase' }).count()) === posted;
  });
  assert.deepEqual(await offences(alice.page, '[data-testid="message-list"]'), []);

  // The search's highlights go through the page as well.
  await alice.page.getByTestId('search-input').fill('xsscase');
  await alice.page.getByTestId('search-input').press('Enter');
  await eventually('the search shows hits', async () => (await alice.page.getByTestId('search-hit').count()) > 0);
  assert.deepEqual(await offences(alice.page, '[data-testid="search-results"] ol'), []);

  // Nothing ran, and the page's CSP reported nothing (web.problems, checked below).
  assert.deepEqual(await alice.page.evaluate(() => (window as unknown as { xssFired: string[] }).xssFired), []);
});

test('no console errors and no CSP violations on any page', (t) => {
  if (!needBrowser(t)) return;
  assert.deepEqual(web.problems, []);
});
