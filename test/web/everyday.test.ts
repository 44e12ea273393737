/**
 * Everyday use of the web app in Chromium against a real server: separate sign-in and sign-up
 * forms whose errors clear on input, the phone layout (the room list and the room as two
 * screens, with Back), a draft kept per room across room switches and a reload, a lost
 * connection shown within seconds with a "Retry now" that reconnects at once, the browser's
 * offline state, keyboard use with a visible focus, and a phone walk by touch through the message
 * actions, the thread, the member list and moderation, room settings, search and the bell.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserHarness, needBrowser, WAIT } from '../support/browser.js';
import { connected, createRoom, eventually, joinFromDiscover, message, openRoomPane, PASSWORD, PHONE, roomItem, say, webApp } from '../support/web-app.js';

const harness = browserHarness({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000, AUTH_RATE_PER_MIN: 10_000 });
// Registering a taken username is refused (409) by design.
const web = webApp(harness, [/\/api\/v1\/auth\/register$/]);

test('sign-in and sign-up are separate forms with addresses; their errors clear when the input changes', async (t) => {
  if (!needBrowser(t)) return;
  const taken = await web.person('taken', 'Taken');
  const { page } = await web.open('newcomer');
  await page.getByTestId('login-form').waitFor(WAIT);
  assert.equal(await page.getByTestId('display-name').count(), 0, 'signing in asks no display name');

  // A wrong password: the error names the password field, and goes when it is typed again.
  await page.getByTestId('username').fill(taken.username);
  await page.getByTestId('password').fill('not the password');
  await page.getByTestId('login').click();
  await page.getByTestId('auth-error').filter({ hasText: /\S/ }).waitFor(WAIT);
  assert.equal(await page.getByTestId('password').getAttribute('aria-invalid'), 'true');
  await page.getByTestId('password').press('x');
  assert.equal(await page.getByTestId('auth-error').textContent(), '');
  assert.equal(await page.getByTestId('password').getAttribute('aria-invalid'), null);

  // The sign-up form has its own address, kept by a reload.
  await page.getByTestId('show-register').click();
  await page.getByTestId('signup-form').waitFor(WAIT);
  assert.match(page.url(), /#\/signup$/);
  await page.reload();
  await page.getByTestId('signup-form').waitFor(WAIT);
  await page.getByTestId('username').fill(taken.username);
  await page.getByTestId('password').fill(PASSWORD);
  await page.getByTestId('register').click();
  await page.getByTestId('auth-error').filter({ hasText: /\S/ }).waitFor(WAIT);
  assert.equal(await page.getByTestId('username').getAttribute('aria-invalid'), 'true', 'the taken username is the field at fault');
  await page.getByTestId('username').fill(`${taken.username}x`);
  assert.equal(await page.getByTestId('auth-error').textContent(), '');
  await page.getByTestId('register').click();
  await connected(page);
  assert.match(page.url(), /#\/$/);
  // Back at the sign-in form after logging out.
  await page.getByTestId('logout').click();
  await page.getByTestId('login-form').waitFor(WAIT);
});

test('phone: the room list and the room are two screens; drafts are kept per room', async (t) => {
  if (!needBrowser(t)) return;
  const alice = await web.person('alice', 'Alice');
  await createRoom(alice.page, 'Kitchen');
  const bob = await web.person('bob', 'Bob', { viewport: PHONE, isMobile: true, hasTouch: true });

  // The room list is its own screen; a room replaces it, and its back link (or Back) returns.
  const sidebar = bob.page.locator('.sidebar');
  const main = bob.page.locator('.main');
  assert.equal(await sidebar.isVisible(), true);
  assert.equal(await main.isVisible(), false);
  await joinFromDiscover(bob.page, 'Kitchen');
  assert.equal(await sidebar.isVisible(), false, 'the room takes the whole screen');
  const box = await bob.page.getByTestId('composer').boundingBox();
  assert.ok(box && box.y + box.height <= PHONE.height, 'the composer is on screen');
  await say(bob.page, 'from my phone');
  await message(alice.page, 'from my phone').waitFor(WAIT);
  await bob.page.getByTestId('back').click();
  await sidebar.waitFor({ state: 'visible', ...WAIT });
  assert.equal(await main.isVisible(), false);

  // On the list screen, a new message shows as unread; the room opens with it.
  await say(alice.page, 'welcome, Bob');
  await roomItem(bob.page, 'Kitchen').getByTestId('unread').filter({ hasText: /^1$/ }).waitFor(WAIT);
  await roomItem(bob.page, 'Kitchen').getByRole('link').tap();
  await message(bob.page, 'welcome, Bob').waitFor(WAIT);
  await bob.page.goBack();
  await sidebar.waitFor({ state: 'visible', ...WAIT });
  await bob.page.goForward();
  await openRoomPane(bob.page, '# Kitchen').waitFor(WAIT);

  // A room that is not mine, by its address: said so, with a way back to the list.
  await bob.page.goto(`${harness.server().url}/#/rooms/no-such-room`);
  await bob.page.getByTestId('open-error').waitFor(WAIT);
  await bob.page.getByTestId('open-error').getByRole('link', { name: 'Back to rooms' }).click();
  await sidebar.waitFor({ state: 'visible', ...WAIT });
  await roomItem(bob.page, 'Kitchen').getByRole('link').click();
  await openRoomPane(bob.page, '# Kitchen').waitFor(WAIT);

  // Drafts: one per room, kept across switching and a reload.
  await bob.page.getByTestId('back').click();
  await createRoom(bob.page, 'Pantry');
  await bob.page.getByTestId('composer').fill('a list for the pantry');
  await bob.page.getByTestId('back').click();
  await roomItem(bob.page, 'Kitchen').getByRole('link').click();
  assert.equal(await bob.page.getByTestId('composer').inputValue(), '');
  await bob.page.getByTestId('composer').fill('half a thought');
  await bob.page.reload();
  await openRoomPane(bob.page, '# Kitchen').waitFor(WAIT);
  assert.equal(await bob.page.getByTestId('composer').inputValue(), 'half a thought');
  await bob.page.getByTestId('back').click();
  await roomItem(bob.page, 'Pantry').getByRole('link').click();
  await openRoomPane(bob.page, '# Pantry').waitFor(WAIT);
  assert.equal(await bob.page.getByTestId('composer').inputValue(), 'a list for the pantry');
  await bob.page.getByTestId('composer').press('Enter');
  await message(bob.page, 'a list for the pantry').and(bob.page.locator('[data-seq]')).waitFor(WAIT);
  await bob.page.reload();
  await openRoomPane(bob.page, '# Pantry').waitFor(WAIT);
  assert.equal(await bob.page.getByTestId('composer').inputValue(), '', 'a sent draft is gone');
});

test('phone, by touch: every message action without hover; the thread, members, moderation, settings, search and the bell fit the screen', async (t) => {
  if (!needBrowser(t)) return;
  const alice = await web.person('alice', 'Alice', { viewport: PHONE, isMobile: true, hasTouch: true, permissions: ['clipboard-read', 'clipboard-write'] });
  const bob = await web.person('bob', 'Bob');
  await alice.page.getByTestId('discover-search').waitFor(WAIT);
  const roomId = await createRoom(bob.page, 'Veranda');
  await createRoom(alice.page, 'Attic');
  await alice.page.getByTestId('back').click();
  await joinFromDiscover(alice.page, 'Veranda');
  const page = alice.page;
  /** The element lies within the phone's screen, left to right. */
  const fits = async (what: string, testId: string): Promise<void> => {
    const element = page.getByTestId(testId).first();
    await element.waitFor({ state: 'visible', ...WAIT });
    const box = await element.boundingBox();
    assert.ok(box !== null && box.x >= -0.5 && box.x + box.width <= PHONE.width + 0.5, `${what} fits the screen: ${JSON.stringify(box)}`);
  };

  // A touch screen has no hover: the actions show on every message.
  await say(page, 'a note from the porch');
  const mine = message(page, 'a note from the porch');
  assert.equal(await mine.getByTestId('edit-message').evaluate((el) => getComputedStyle(el.parentElement as Element).opacity), '1');
  await mine.getByTestId('edit-message').tap();
  await page.getByTestId('edit-input').fill('a note from the veranda');
  await page.getByTestId('edit-input').press('Enter');
  await message(bob.page, 'a note from the veranda').getByTestId('edited').waitFor(WAIT);
  const edited = message(page, 'a note from the veranda');

  await edited.getByTestId('react').tap();
  await fits('the emoji picker', 'emoji-picker');
  await page.getByTestId('emoji-picker').getByRole('button', { name: 'React with 👍' }).tap();
  await message(bob.page, 'a note from the veranda').getByTestId('reaction').filter({ hasText: '👍 1' }).waitFor(WAIT);

  await edited.getByTestId('copy-link').tap();
  await page.getByTestId('room-status').filter({ hasText: 'Link copied.' }).waitFor(WAIT);
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), `${harness.server().url}/#/rooms/${roomId}/${await edited.getAttribute('data-seq')}`);

  // The thread is a screen of its own, with Back to the room.
  await edited.getByTestId('reply-in-thread').tap();
  await fits('the thread', 'thread-panel');
  await page.getByTestId('thread-composer').fill('and one in the thread');
  await page.getByTestId('thread-composer').press('Enter');
  await page.getByTestId('thread-reply').filter({ hasText: 'and one in the thread' }).waitFor(WAIT);
  await page.getByTestId('thread-back').tap();
  await page.getByTestId('thread-panel').waitFor({ state: 'detached', ...WAIT });
  await edited.getByTestId('thread-summary').filter({ hasText: '1 reply' }).waitFor(WAIT);

  // Members (with presence and the owner's menu: Bob owns the room, so Alice has none) and settings.
  await page.getByTestId('members-toggle').tap();
  await fits('the member list', 'members-panel');
  await page.locator(`[data-testid="member"][data-username="${bob.username}"]`).getByTestId('member-role').filter({ hasText: 'owner' }).waitFor(WAIT);
  assert.equal(await page.getByTestId('member-moderate').count(), 0, 'a member moderates nobody');
  await page.getByTestId('members-close').tap();
  await page.getByLabel('Room settings').tap();
  await fits('the room settings', 'room-settings');
  await page.getByTestId('notify-level').selectOption('all');
  await page.getByTestId('room-settings').getByRole('status').filter({ hasText: 'saved' }).waitFor(WAIT);
  await page.getByLabel('Room settings').tap();

  // Bob makes Alice an admin from his desktop; on her phone she now moderates from the list.
  await bob.page.getByTestId('members-toggle').click();
  const aliceRow = bob.page.locator(`[data-testid="member"][data-username="${alice.username}"]`);
  await aliceRow.getByLabel(`Moderate @${alice.username}`).click();
  await aliceRow.getByTestId('member-admin').click();
  await bob.page.getByTestId('confirm-ok').click();
  await page.getByTestId('notice').filter({ hasText: 'admin' }).first().waitFor(WAIT);
  const carol = await web.person('carol', 'Carol');
  await joinFromDiscover(carol.page, 'Veranda');
  await page.getByTestId('members-toggle').tap();
  const carolRow = page.locator(`[data-testid="member"][data-username="${carol.username}"]`);
  await carolRow.getByLabel(`Moderate @${carol.username}`).tap();
  await fits('the moderation menu', 'member-moderate');
  await carolRow.getByTestId('member-mute').tap();
  await fits('the confirmation', 'confirm-dialog');
  await page.getByTestId('confirm-ok').tap();
  await carol.page.getByTestId('muted-notice').waitFor(WAIT);
  await page.getByTestId('members-close').tap();

  // Delete, after the confirmation.
  await edited.getByTestId('delete-message').tap();
  await page.getByTestId('confirm-ok').tap();
  await message(bob.page, 'message deleted').waitFor(WAIT);

  // Search from the room list screen; the hit opens its room at the message.
  await say(bob.page, 'the geraniums need water');
  await page.getByTestId('back').tap();
  await page.getByTestId('search-input').fill('geraniums');
  await page.getByTestId('search-input').press('Enter');
  const hit = page.getByTestId('search-hit');
  await hit.first().waitFor(WAIT);
  await fits('the search results', 'search-results');
  await hit.getByRole('link').first().tap();
  await message(page, 'the geraniums need water').and(page.locator('.highlighted')).waitFor(WAIT);

  // The bell, on the room list screen, when Bob mentions her.
  await say(bob.page, `@${alice.username} the hose is in the shed`);
  await page.getByTestId('back').tap();
  await page.getByTestId('bell-count').waitFor(WAIT);
  await page.getByTestId('bell').tap();
  await fits('the notifications', 'notification-list');
  await page.getByTestId('notification').filter({ hasText: 'the hose is in the shed' }).tap();
  await message(page, 'the hose is in the shed').and(page.locator('.highlighted')).waitFor(WAIT);
});

test('a lost connection shows within seconds; Retry now reconnects at once; offline is shown at once', async (t) => {
  if (!needBrowser(t)) return;
  // While `down`, the socket's frames go nowhere and new sockets are refused: a dead network.
  let down = false;
  let attempts = 0;
  const carol = await web.person('carol', 'Carol', {
    prepare: (context) =>
      context.routeWebSocket(/\/ws(\?|$)/, (ws) => {
        attempts++;
        if (down) {
          void ws.close({ code: 1013, reason: 'no network' });
          return;
        }
        const server = ws.connectToServer();
        server.onMessage((frame) => {
          if (!down) ws.send(frame);
        });
        ws.onMessage((frame) => {
          if (!down) server.send(frame);
        });
      }),
  });
  await createRoom(carol.page, 'Cellar');
  await say(carol.page, 'before the outage');

  down = true;
  const started = Date.now();
  const banner = carol.page.getByTestId('connection-lost');
  await banner.waitFor(WAIT);
  const noticedMs = Date.now() - started;
  assert.ok(noticedMs < 9_000, `noticed after ${noticedMs} ms`);
  await carol.page.getByTestId('retry-now').waitFor(WAIT);
  // Between attempts it waits ('reconnecting'); during one it is 'connecting': never 'open'.
  assert.match((await carol.page.getByTestId('connection-state').getAttribute('data-state')) ?? '', /^(reconnecting|connecting)$/);

  // Retry now tries at once, not when the wait ends: wait for a wait of at least 4 s to be shown,
  // then the click's attempt must come long before it ends.
  const retry = carol.page.getByTestId('retry-now');
  const deadline = Date.now() + 60_000;
  let waitS = 0;
  while (waitS < 4) {
    assert.ok(Date.now() < deadline, 'the backoff never showed a wait of 4 s');
    const text = (await banner.textContent()) ?? '';
    waitS = Number(/Retrying in (\d+) s/.exec(text)?.[1] ?? 0);
    if (waitS < 4) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const before = attempts;
  const clicked = Date.now();
  await retry.click();
  await eventually('Retry now made an attempt', () => attempts > before);
  assert.ok(Date.now() - clicked < (waitS - 1) * 1_000, `the attempt came ${Date.now() - clicked} ms after the click, the wait was ${waitS} s`);

  // The network is back: Retry now (if the backoff has not already reconnected) connects.
  down = false;
  await eventually('waiting or connected', async () => /^(reconnecting|open)$/.test((await carol.page.getByTestId('connection-state').getAttribute('data-state')) ?? ''));
  await carol.page.evaluate(() => document.querySelector<HTMLButtonElement>('[data-testid="retry-now"]')?.click());
  await connected(carol.page);
  await banner.waitFor({ state: 'detached', ...WAIT });
  await say(carol.page, 'after the outage');

  // The browser's own offline state shows at once; back online, it reconnects without waiting.
  await carol.context.setOffline(true);
  await banner.filter({ hasText: 'You are offline.' }).waitFor(WAIT);
  await carol.context.setOffline(false);
  await connected(carol.page);
  await banner.waitFor({ state: 'detached', ...WAIT });
});

test('keyboard only: search, open a hit, write, with a visible focus', async (t) => {
  if (!needBrowser(t)) return;
  const dave = await web.person('dave', 'Dave');
  await createRoom(dave.page, 'Study');
  await say(dave.page, 'the keyboard works');
  await createRoom(dave.page, 'Lounge');
  const page = dave.page;
  await page.getByTestId('search-input').focus();
  await page.keyboard.type('keyboard');
  await page.keyboard.press('Enter');
  const hit = page.getByTestId('search-hit').getByRole('link');
  await hit.waitFor(WAIT);
  await hit.focus();
  assert.notEqual(await hit.evaluate((el) => getComputedStyle(el).outlineStyle), 'none', 'the focused link shows it');
  await page.keyboard.press('Enter');
  await openRoomPane(page, '# Study').waitFor(WAIT);
  await page.getByTestId('composer').focus();
  await page.keyboard.press('Shift+Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'attach');
  assert.notEqual(await page.getByTestId('attach').evaluate((el) => getComputedStyle(el).outlineStyle), 'none', 'the focused button shows it');
  await page.keyboard.press('Tab');
  await page.keyboard.type('typed without a mouse');
  await page.keyboard.press('Enter');
  await message(page, 'typed without a mouse').and(page.locator('[data-seq]')).waitFor(WAIT);
});

test('no console errors and no CSP violations on any page', (t) => {
  if (!needBrowser(t)) return;
  assert.deepEqual(web.problems, []);
});
