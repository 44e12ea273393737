/**
 * People in the web app, in Chromium with three people against a real server: the member list
 * with online status and roles, inviting to a private room, a direct message started from the
 * member list and by username, leaving a room, the Discover list kept live, and desktop
 * notifications offered only after a first message (never on load), then shown for messages
 * elsewhere.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserHarness, needBrowser, WAIT } from '../support/browser.js';
import { api, registerUser } from '../support/server.js';
import { createRoom, eventually, message, openRoomPane, roomItem, say, webApp } from '../support/web-app.js';

const harness = browserHarness({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000, AUTH_RATE_PER_MIN: 10_000 });
// The invite and the DM to an unknown username are refused (404) by design.
const web = webApp(harness, [/\/api\/v1\/rooms\/[^/]+\/members$/, /\/api\/v1\/dms$/]);
const url = (): string => harness.server().url;

/** A stand-in for the Notification API that records what the page shows (headless Chromium shows nothing). */
const FAKE_NOTIFICATIONS = `
  window.shownNotifications = [];
  window.Notification = class {
    static permission = 'default';
    static requestPermission() { window.Notification.permission = 'granted'; return Promise.resolve('granted'); }
    constructor(title, options) { window.shownNotifications.push({ title, body: options && options.body }); }
    close() {}
  };
`;

test('members with presence and roles; invite to a private room; DMs from the list and by username; leaving', async (t) => {
  if (!needBrowser(t)) return;
  const alice = await web.person('alice', 'Alice');
  const bob = await web.person('bob', 'Bob');
  const carol = await web.person('carol', 'Carol');
  await createRoom(alice.page, 'Secret', 'private');

  // The member list: Alice, the owner, online.
  await alice.page.getByTestId('members-toggle').click();
  const panel = alice.page.getByTestId('members-panel');
  const member = (username: string) => panel.locator(`[data-testid="member"][data-username="${username}"]`);
  await member(alice.username).waitFor(WAIT);
  assert.equal(await member(alice.username).getByTestId('member-role').textContent(), 'owner');
  assert.equal(await member(alice.username).getByTestId('member-status').textContent(), 'online');

  // Invite Bob: the room appears in his list at once, and he shows online in hers.
  await panel.getByTestId('invite-username').fill(bob.username);
  await panel.getByTestId('invite-submit').click();
  await panel.getByTestId('invite-status').filter({ hasText: `@${bob.username} was added` }).waitFor(WAIT);
  await roomItem(bob.page, 'Secret').waitFor(WAIT);
  await member(bob.username).and(alice.page.locator('[data-online="true"]')).waitFor(WAIT);
  assert.equal(await member(bob.username).getByTestId('member-role').count(), 0, 'a plain member has no role badge');
  // An unknown username says so.
  await panel.getByTestId('invite-username').fill('nobody-by-that-name');
  await panel.getByTestId('invite-submit').click();
  await panel.getByTestId('members-error').filter({ hasText: /\S/ }).waitFor(WAIT);

  // A DM from the member list: Bob gets it in his list, with the message unread.
  await member(bob.username).getByTestId('member-dm').click();
  await openRoomPane(alice.page, `@ ${bob.username}`).waitFor(WAIT);
  await say(alice.page, 'just between us');
  const dm = roomItem(bob.page, `@ ${alice.username}`);
  await dm.getByTestId('unread').filter({ hasText: /^1$/ }).waitFor(WAIT);
  await dm.getByRole('link').click();
  await message(bob.page, 'just between us').waitFor(WAIT);
  assert.equal(await bob.page.getByTestId('leave-room').count(), 0, 'a DM cannot be left');

  // A DM by username, from Carol.
  await carol.page.getByTestId('dm-username').fill(`@${alice.username}`);
  await carol.page.getByTestId('dm-submit').click();
  await openRoomPane(carol.page, `@ ${alice.username}`).waitFor(WAIT);
  await carol.page.getByTestId('dm-username').fill('nobody-by-that-name');
  await carol.page.getByTestId('dm-submit').click();
  await carol.page.getByTestId('dm-error').filter({ hasText: /\S/ }).waitFor(WAIT);
  await carol.page.getByTestId('dm-username').fill('x');
  assert.equal(await carol.page.getByTestId('dm-error').textContent(), '', 'the error clears when the input changes');

  // Bob leaves the private room after a confirmation: gone from his list; Alice sees him go.
  await roomItem(alice.page, 'Secret').getByRole('link').click();
  await openRoomPane(alice.page, '🔒 Secret').waitFor(WAIT);
  await roomItem(bob.page, 'Secret').getByRole('link').click();
  await openRoomPane(bob.page, '🔒 Secret').waitFor(WAIT);
  await bob.page.getByTestId('leave-room').click();
  await bob.page.getByTestId('confirm-ok').click();
  await roomItem(bob.page, 'Secret').waitFor({ state: 'detached', ...WAIT });
  await bob.page.getByTestId('empty-pane').waitFor(WAIT);
  assert.match(bob.page.url(), /#\/$/);
  await alice.page.getByTestId('notice').filter({ hasText: 'Bob left the room' }).waitFor(WAIT);

  // Carol closes her page: she shows offline in the DM's member list of Alice.
  await roomItem(alice.page, `@ ${carol.username}`).getByRole('link').click();
  await alice.page.getByTestId('members-toggle').click();
  await member(carol.username).and(alice.page.locator('[data-online="true"]')).waitFor(WAIT);
  await carol.context.close();
  await member(carol.username).and(alice.page.locator('[data-online="false"]')).waitFor(WAIT);
});

test('Discover stays live; notifications are offered after a first message, then shown for messages elsewhere', async (t) => {
  if (!needBrowser(t)) return;
  const dave = await web.person('dave', 'Dave', { prepare: (context) => context.addInitScript({ content: FAKE_NOTIFICATIONS }) });
  await createRoom(dave.page, 'Den');
  assert.equal(await dave.page.getByTestId('notify-offer').count(), 0, 'nothing is asked on first load');

  // A room someone else creates shows up in Discover without a reload.
  const erin = await registerUser(url(), 'erin');
  const made = await api(url(), 'POST', '/api/v1/rooms', { token: erin.token, body: { name: 'Fresh paint', visibility: 'public' } });
  assert.equal(made.status, 201);
  // Discover is fetched again every 10 s while the page is visible.
  await dave.page.getByTestId('public-room').filter({ hasText: 'Fresh paint' }).waitFor({ timeout: 15_000 });

  // The first message sent is the moment to ask; turned on, notifications show for other rooms.
  await say(dave.page, 'hello den');
  await dave.page.getByTestId('notify-offer').waitFor(WAIT);
  await dave.page.getByTestId('notify-enable').click();
  await dave.page.getByTestId('notify-offer').waitFor({ state: 'detached', ...WAIT });
  await dave.page.getByTestId('public-room').filter({ hasText: 'Fresh paint' }).getByTestId('join').click();
  await openRoomPane(dave.page, '# Den').waitFor({ state: 'detached', ...WAIT });
  await roomItem(dave.page, 'Den').getByRole('link').click();
  const roomId = made.body.room.id as string;
  const posted = await api(url(), 'POST', `/api/v1/rooms/${roomId}/messages`, { token: erin.token, body: { body: 'paint is dry' } });
  assert.equal(posted.status, 201);
  await eventually('a desktop notification was shown', async () => {
    const shown = await dave.page.evaluate(() => (window as unknown as { shownNotifications: Array<{ title: string; body: string }> }).shownNotifications);
    return shown.some((n) => n.title === `${erin.username} in # Fresh paint` && n.body === 'paint is dry');
  });

  // "Not now" is remembered: no offer again, even after a reload.
  const frank = await web.person('frank', 'Frank', { prepare: (context) => context.addInitScript({ content: FAKE_NOTIFICATIONS }) });
  await createRoom(frank.page, 'Field');
  await say(frank.page, 'first');
  await frank.page.getByTestId('notify-decline').click();
  await frank.page.reload();
  await openRoomPane(frank.page, '# Field').waitFor(WAIT);
  await say(frank.page, 'second');
  assert.equal(await frank.page.getByTestId('notify-offer').count(), 0);
});

test('no console errors and no CSP violations on any page', (t) => {
  if (!needBrowser(t)) return;
  assert.deepEqual(web.problems, []);
});
