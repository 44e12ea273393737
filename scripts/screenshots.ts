/**
 * Takes the README's screenshots of the web app (docs/screenshots/*.png): a server on a free
 * port with its own data, two people talking in Chromium, then the main screens at desktop and
 * phone sizes (a room, search, a thread, the notifications, moderation), in the light scheme. Run after changing the page:
 *
 *   node --import tsx scripts/screenshots.ts
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { buildWeb, launchBrowser } from '../test/support/browser.js';
import { api, startTestServer } from '../test/support/server.js';

const OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'screenshots');
const PASSWORD = 'correct horse battery';

async function signUp(browser: Browser, base: string, username: string, displayName: string, viewport: { width: number; height: number }): Promise<Page> {
  const context = await browser.newContext({ viewport, colorScheme: 'light', deviceScaleFactor: 1 });
  const page = await context.newPage();
  await page.goto(`${base}/#/signup`);
  await page.getByTestId('username').fill(username);
  await page.getByTestId('password').fill(PASSWORD);
  await page.getByTestId('display-name').fill(displayName);
  await page.getByTestId('register').click();
  await page.locator('[data-testid="connection-state"][data-state="open"]').waitFor();
  return page;
}

async function token(base: string, username: string): Promise<string> {
  const res = await api(base, 'POST', '/api/v1/auth/login', { body: { username, password: PASSWORD } });
  return res.body.token as string;
}

async function main(): Promise<void> {
  buildWeb();
  const server = await startTestServer({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000, AUTH_RATE_PER_MIN: 10_000 });
  const browser = await launchBrowser();
  try {
    const base = server.url;
    const signIn = await (await browser.newContext({ viewport: { width: 1100, height: 720 }, colorScheme: 'light' })).newPage();
    await signIn.goto(base);
    await signIn.getByTestId('login-form').waitFor();
    await signIn.screenshot({ path: path.join(OUT, 'sign-in.png') });

    const ada = await signUp(browser, base, 'ada', 'Ada Lovelace', { width: 1100, height: 720 });
    const adaToken = await token(base, 'ada');
    const bob = await signUp(browser, base, 'bob', 'Bob', { width: 390, height: 780 });
    const bobToken = await token(base, 'bob');
    const garden = await api(base, 'POST', '/api/v1/rooms', { token: adaToken, body: { name: 'garden', visibility: 'public', topic: 'Seeds, soil and what grows' } });
    const roomId = garden.body.room.id as string;
    await api(base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bobToken });
    await api(base, 'POST', '/api/v1/rooms', { token: adaToken, body: { name: 'kitchen', visibility: 'private' } });
    await api(base, 'POST', '/api/v1/rooms', { token: bobToken, body: { name: 'workshop', visibility: 'public' } });
    const lines: Array<[string, string]> = [
      [adaToken, 'Morning! The **tomatoes** are finally turning red.'],
      [bobToken, 'Nice. Did the basil survive the cold night?'],
      [adaToken, 'Mostly. I covered it with a sheet:\n- basil: fine\n- mint: _unstoppable_\n- chillies: not so much'],
      [bobToken, 'The seed list is at https://example.com/seeds, @ada can you add `lemon thyme`?'],
      [adaToken, '> can you add lemon thyme?\n\nDone, and ordered more compost.'],
    ];
    for (const [who, body] of lines) await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: who, body: { body } });

    await ada.goto(`${base}/#/rooms/${roomId}`);
    await ada.getByTestId('message-body').filter({ hasText: 'ordered more compost' }).waitFor();
    await ada.getByTestId('members-toggle').click();
    await ada.getByTestId('member').nth(1).waitFor();
    await ada.getByTestId('composer').fill('See you at the allotment at 5');
    await ada.screenshot({ path: path.join(OUT, 'room.png') });
    await ada.getByTestId('composer').fill('');

    await ada.getByTestId('search-input').fill('basil');
    await ada.getByTestId('search-input').press('Enter');
    await ada.getByTestId('search-hit').first().waitFor();
    await ada.screenshot({ path: path.join(OUT, 'search.png') });

    // A thread with reactions, beside the room.
    const history = await api(base, 'GET', `/api/v1/rooms/${roomId}/messages?limit=10`, { token: adaToken });
    const basil = (history.body.messages as Array<{ seq: number; body: string }>).find((m) => m.body.includes('basil survive'));
    if (basil === undefined) throw new Error('the basil message is missing');
    for (const [who, body] of [
      [adaToken, 'It did: I moved the pots by the wall.'],
      [bobToken, 'Good call, the wall keeps the heat.'],
    ] as const) {
      await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: who, body: { body, threadRoot: basil.seq } });
    }
    for (const [who, emoji] of [
      [adaToken, '🌱'],
      [bobToken, '🌱'],
      [bobToken, '👍'],
    ] as const) {
      await api(base, 'PUT', `/api/v1/rooms/${roomId}/messages/${basil.seq}/reactions/${encodeURIComponent(emoji)}`, { token: who });
    }
    await ada.goto(`${base}/#/rooms/${roomId}/thread/${basil.seq}`);
    await ada.getByTestId('thread-reply').filter({ hasText: 'keeps the heat' }).waitFor();
    await ada.screenshot({ path: path.join(OUT, 'thread.png') });

    // The bell's list, after Bob mentions Ada.
    await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: bobToken, body: { body: '@ada the compost came, where should it go?' } });
    await ada.goto(`${base}/#/rooms/${roomId}`);
    await ada.getByTestId('bell-count').waitFor();
    await ada.getByTestId('bell').click();
    await ada.getByTestId('notification').first().waitFor();
    await ada.screenshot({ path: path.join(OUT, 'notifications.png') });
    await ada.keyboard.press('Escape');

    // Moderation: a member's menu, and the room's bans and mutes in its settings.
    const cyd = await api(base, 'POST', '/api/v1/auth/register', { body: { username: 'cyd', password: PASSWORD, displayName: 'Cyd' } });
    await api(base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: cyd.body.token });
    await api(base, 'PUT', `/api/v1/rooms/${roomId}/mutes/${cyd.body.user.id}`, { token: adaToken, body: { durationS: 86_400, reason: 'posting adverts' } });
    await ada.reload();
    await ada.getByTestId('members-toggle').click();
    await ada.locator('[data-testid="member"][data-username="bob"]').getByLabel('Moderate @bob').click();
    await ada.getByLabel('Room settings').click();
    await ada.getByTestId('restriction').first().waitFor();
    await ada.screenshot({ path: path.join(OUT, 'moderation.png') });

    await bob.goto(`${base}/#/`);
    await bob.getByTestId('room-item').first().waitFor();
    await bob.screenshot({ path: path.join(OUT, 'phone-rooms.png') });
    await bob.goto(`${base}/#/rooms/${roomId}`);
    await bob.getByTestId('message-body').filter({ hasText: 'ordered more compost' }).waitFor();
    await bob.screenshot({ path: path.join(OUT, 'phone-room.png') });
    console.log(`screenshots written to ${OUT}`);
  } finally {
    await browser.close();
    await server.stop();
  }
}

await main();
