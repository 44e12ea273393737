/**
 * The team features in the web app, in Chromium with three people against a real server: the
 * notification bell (a mention of me counts, live; its list jumps to the message and marks it
 * read), at desktop and phone sizes; moderation from the member list (a muted member sees why
 * she cannot send, a banned one loses the room) with its system lines in the timeline; a user search that opens a DM and invites; a profile status; blocking; a desktop notification while the tab is hidden;
 * mutes and bans for a chosen time, known to the muted member when the room opens, listed and
 * lifted in the room's settings; older notifications a page at a time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserHarness, needBrowser, WAIT } from '../support/browser.js';
import { api } from '../support/server.js';
import { createRoom, eventually, joinFromDiscover, message, openRoomPane, PHONE, say, webApp, focused } from '../support/web-app.js';

const harness = browserHarness({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000, AUTH_RATE_PER_MIN: 10_000 });
const web = webApp(harness);

/** A stand-in for the Notification API, already allowed, that records what the page shows (headless Chromium shows nothing). */
const FAKE_NOTIFICATIONS = `
  window.shownNotifications = [];
  window.Notification = class {
    static permission = 'granted';
    static requestPermission() { return Promise.resolve('granted'); }
    constructor(title, options) { window.shownNotifications.push({ title, body: options && options.body }); }
    close() {}
  };
`;

test('a mention lights the bell; its list jumps to the message and marks it read, at desktop and phone sizes', async (t) => {
  if (!needBrowser(t)) return;
  const alice = await web.person('alice', 'Alice');
  const bob = await web.person('bob', 'Bob', { prepare: (context) => context.addInitScript({ content: FAKE_NOTIFICATIONS }) });
  const carol = await web.person('carol', 'Carol', { viewport: PHONE });
  const roomId = await createRoom(alice.page, 'Lounge');
  await joinFromDiscover(bob.page, 'Lounge');
  // On a phone the room list is the home screen, with the bell in its header.
  await carol.page.getByTestId('discover-search').fill('Lounge');
  await carol.page.getByTestId('public-room').filter({ hasText: 'Lounge' }).getByTestId('join').click();
  await openRoomPane(carol.page, '# Lounge').waitFor(WAIT);

  // Bob is in another screen of the app (home): the mention counts on his bell, live.
  await bob.page.goto(`${harness.server().url}/#/`);
  await bob.page.getByTestId('bell').waitFor(WAIT);
  assert.equal(await bob.page.getByTestId('bell-count').count(), 0, 'nothing unread yet');
  await say(alice.page, 'filler before');
  await say(alice.page, `@${bob.username} look at this`);
  await say(alice.page, `@${carol.username} and you`);
  await bob.page.getByTestId('bell-count').filter({ hasText: /^1$/ }).waitFor(WAIT);
  assert.equal(await bob.page.getByTestId('bell').getAttribute('aria-label'), 'Notifications, 1 unread');

  // The list names who and where; the item is a link to the message, which opens highlighted.
  // Escape closes the list, back on the bell.
  await bob.page.getByTestId('bell').click();
  await bob.page.getByTestId('notification').first().focus();
  await bob.page.keyboard.press('Escape');
  await bob.page.getByTestId('notification-list').waitFor({ state: 'detached', ...WAIT });
  await focused(bob.page, 'bell');
  await bob.page.getByTestId('bell').click();
  const item = bob.page.getByTestId('notification').filter({ hasText: 'look at this' });
  await item.waitFor(WAIT);
  assert.match((await item.textContent()) ?? '', /Alice mentioned you in Lounge/);
  assert.equal(await item.getAttribute('data-read'), 'false');
  await item.click();
  await openRoomPane(bob.page, '# Lounge').waitFor(WAIT);
  const target = message(bob.page, 'look at this');
  await target.and(bob.page.locator('.highlighted')).waitFor(WAIT);
  assert.match(bob.page.url(), new RegExp(`#/rooms/${roomId}/\\d+$`));
  await bob.page.getByTestId('bell-count').waitFor({ state: 'detached', ...WAIT });
  await bob.page.getByTestId('notification-list').waitFor({ state: 'detached', ...WAIT });

  // At phone size: back to the room list, the bell shows Carol's mention and its list jumps.
  await carol.page.getByLabel('Back to rooms').click();
  await carol.page.getByTestId('bell-count').filter({ hasText: /^1$/ }).waitFor(WAIT);
  await carol.page.getByTestId('bell').click();
  await carol.page.getByTestId('notification').filter({ hasText: 'and you' }).click();
  await message(carol.page, 'and you').and(carol.page.locator('.highlighted')).waitFor(WAIT);
  await carol.page.getByTestId('bell-count').waitFor({ state: 'detached', ...WAIT });

  // Bob sets a status in his profile: Alice's open member list shows it beside "Bob @bob", live.
  await alice.page.getByTestId('members-toggle').click();
  const member = (username: string) => alice.page.locator(`[data-testid="member"][data-username="${username}"]`);
  await member(bob.username).waitFor(WAIT);
  await bob.page.getByTestId('profile-open').click();
  await bob.page.getByTestId('profile-status').fill('on call today');
  await bob.page.getByTestId('profile-save').click();
  await bob.page.getByTestId('my-status').filter({ hasText: 'on call today' }).waitFor(WAIT);
  await member(bob.username).getByTestId('member-status-text').filter({ hasText: 'on call today' }).waitFor(WAIT);

  // Alice, the owner, mutes Carol from the member list, after a confirmation: Carol's composer
  // gives way to why she cannot send; both see the system line.
  await member(carol.username).getByLabel(`Moderate @${carol.username}`).click();
  await member(carol.username).getByTestId('member-mute').click();
  await alice.page.getByTestId('confirm-ok').click();
  await carol.page.getByTestId('muted-notice').filter({ hasText: 'Alice muted you in this room' }).waitFor(WAIT);
  assert.equal(await carol.page.getByTestId('composer').count(), 0, 'no composer while muted');
  await alice.page.getByTestId('notice').filter({ hasText: 'Alice muted Carol' }).waitFor(WAIT);
  await carol.page.getByTestId('notice').filter({ hasText: 'Alice muted Carol' }).waitFor(WAIT);
  // Nobody moderates themselves.
  assert.equal(await member(alice.username).getByTestId('member-moderate').count(), 0);

  // Alice bans Carol: the room leaves Carol's list and her screen. (The menu closed after the mute.)
  assert.equal(await member(carol.username).getByTestId('member-ban').isVisible(), false);
  await member(carol.username).getByLabel(`Moderate @${carol.username}`).click();
  await member(carol.username).getByTestId('member-ban').click();
  await alice.page.getByTestId('confirm-ok').click();
  await alice.page.getByTestId('notice').filter({ hasText: 'Alice banned Carol' }).waitFor(WAIT);
  await carol.page.getByTestId('room-item').filter({ hasText: 'Lounge' }).waitFor({ state: 'detached', ...WAIT });
  await member(carol.username).waitFor({ state: 'detached', ...WAIT });

  // Bob mutes the room for himself; Alice archives it: Bob's composer gives way to a banner.
  await bob.page.getByLabel('Room settings').click();
  await bob.page.getByTestId('notify-level').selectOption('mentions');
  await bob.page.getByTestId('room-settings').getByRole('status').filter({ hasText: 'saved' }).waitFor(WAIT);
  await bob.page.getByTestId('notify-mute').check();
  await eventually('the mute is saved', async () => (await api(harness.server().url, 'GET', `/api/v1/rooms/${roomId}/notifications`, { token: await web.token(bob.username) })).body.mutedUntil !== null);
  assert.equal(await bob.page.getByTestId('room-archive').count(), 0, 'a plain member has no room settings');
  await alice.page.getByLabel('Room settings').click();
  await alice.page.getByTestId('room-archive').click();
  await bob.page.getByTestId('archived-banner').waitFor(WAIT);
  await bob.page.getByTestId('notice').filter({ hasText: 'Alice archived the room' }).waitFor(WAIT);
  assert.equal(await bob.page.getByTestId('composer').count(), 0, 'no composer in an archived room');

  // Bob finds Carol by the start of her display name and messages her; she gets the DM.
  await bob.page.getByTestId('dm-username').fill('Caro');
  await bob.page.locator(`[data-testid="user-match"][data-username="${carol.username}"]`).click();
  await openRoomPane(bob.page, `@ ${carol.username}`).waitFor(WAIT);
  await say(bob.page, 'sorry about that');
  await carol.page.getByTestId('room-item').filter({ hasText: `@ ${bob.username}` }).waitFor(WAIT);

  // Bob blocks Carol from her entry in the DM's member list: no more messages either way; then unblocks.
  await bob.page.getByTestId('members-toggle').click();
  const block = bob.page.locator(`[data-testid="member"][data-username="${carol.username}"]`).getByTestId('member-block');
  await block.click();
  await block.and(bob.page.locator('[aria-pressed="true"]')).waitFor(WAIT);
  const refused = await api(harness.server().url, 'POST', '/api/v1/dms', { token: await web.token(carol.username), body: { username: bob.username } });
  assert.equal(refused.status, 403);
  await block.click();
  await block.and(bob.page.locator('[aria-pressed="false"]')).waitFor(WAIT);

  // Bob's tab is hidden: Carol's mention of him shows as a desktop notification.
  await bob.page.evaluate(() => Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true }));
  await carol.page.getByTestId('room-item').filter({ hasText: `@ ${bob.username}` }).getByRole('link').click();
  await say(carol.page, `@${bob.username} ping`);
  await eventually('a desktop notification was shown', async () => {
    const shown = await bob.page.evaluate(() => (window as unknown as { shownNotifications: Array<{ title: string; body: string }> }).shownNotifications);
    return shown.some((n) => n.title.startsWith('Carol in ') && n.body.includes('ping'));
  });

  // Alice invites Bob to a private room by finding him in its member list.
  await createRoom(alice.page, 'Backroom', 'private');
  await alice.page.getByTestId('members-toggle').click();
  await alice.page.getByTestId('invite-username').fill('Bob');
  await alice.page.getByTestId('members-panel').locator(`[data-testid="user-match"][data-username="${bob.username}"]`).click();
  await alice.page.getByTestId('invite-status').filter({ hasText: `@${bob.username} was added` }).waitFor(WAIT);
  await bob.page.getByTestId('room-item').filter({ hasText: 'Backroom' }).waitFor(WAIT);

  assert.deepEqual(web.problems, []);
});

test('a mute or ban lasts as long as chosen; the muted member knows on opening the room; bans and mutes are listed and lifted; older notifications page in', async (t) => {
  if (!needBrowser(t)) return;
  const alice = await web.person('alice', 'Alice');
  const bob = await web.person('bob', 'Bob');
  const roomId = await createRoom(alice.page, 'Porch');
  await joinFromDiscover(bob.page, 'Porch');
  await alice.page.getByTestId('members-toggle').click();
  const member = (username: string) => alice.page.locator(`[data-testid="member"][data-username="${username}"]`);

  // Alice mutes Bob for an hour: the confirmation and Bob's notice say until when.
  await member(bob.username).getByLabel(`Moderate @${bob.username}`).click();
  await member(bob.username).getByTestId('member-duration').selectOption('3600');
  await member(bob.username).getByTestId('member-mute').click();
  await alice.page.getByTestId('confirm-dialog').filter({ hasText: 'for 1 hour' }).waitFor(WAIT);
  await alice.page.getByTestId('confirm-ok').click();
  await bob.page.getByTestId('muted-notice').filter({ hasText: /Alice muted you in this room until .+: you can read, but not send\./ }).waitFor(WAIT);
  const restrictions = await api(harness.server().url, 'GET', `/api/v1/rooms/${roomId}/restrictions`, { token: await web.token(alice.username) });
  const ends = Date.parse(restrictions.body.restrictions[0].until);
  assert.ok(ends > Date.now() + 3_500_000 && ends < Date.now() + 3_700_000, `muted for an hour: until ${restrictions.body.restrictions[0].until}`);

  // After a reload Bob is told at once, before he tries to send.
  await bob.page.reload();
  await openRoomPane(bob.page, '# Porch').waitFor(WAIT);
  await bob.page.getByTestId('muted-notice').filter({ hasText: /You are muted in this room until / }).waitFor(WAIT);
  assert.equal(await bob.page.getByTestId('composer').count(), 0);

  // The room's settings list the mute; Alice lifts it there and Bob may write again.
  await alice.page.getByLabel('Room settings').click();
  const listed = alice.page.getByTestId('restriction').and(alice.page.locator(`[data-username="${bob.username}"]`));
  await listed.and(alice.page.locator('[data-kind="mute"]')).waitFor(WAIT);
  await listed.getByTestId('restriction-lift').click();
  await alice.page.getByTestId('restrictions').filter({ hasText: 'Nobody is banned or muted.' }).waitFor(WAIT);
  await focused(alice.page, 'restrictions'); // the focus stays in the list, not lost with the row
  await bob.page.getByTestId('muted-notice').waitFor({ state: 'detached', ...WAIT });
  await say(bob.page, 'thanks for that');
  await alice.page.getByLabel('Room settings').click();

  // Banned for ever: the room leaves Bob's list; listed in the settings, and lifted, he may join again.
  await member(bob.username).getByLabel(`Moderate @${bob.username}`).click();
  await member(bob.username).getByTestId('member-duration').selectOption('');
  await member(bob.username).getByTestId('member-ban').click();
  await alice.page.getByTestId('confirm-dialog').filter({ hasText: 'for ever' }).waitFor(WAIT);
  await alice.page.getByTestId('confirm-ok').click();
  await bob.page.getByTestId('room-item').filter({ hasText: 'Porch' }).waitFor({ state: 'detached', ...WAIT });
  await alice.page.getByLabel('Room settings').click();
  await listed.and(alice.page.locator('[data-kind="ban"]')).filter({ hasText: 'banned for ever' }).waitFor(WAIT);
  await listed.getByTestId('restriction-lift').click();
  await listed.waitFor({ state: 'detached', ...WAIT });
  await joinFromDiscover(bob.page, 'Porch');

  // Older notifications come a page at a time below the newest.
  const token = await web.token(alice.username);
  for (let i = 1; i <= 35; i++) {
    const sent = await api(harness.server().url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token, body: { body: `@${bob.username} note ${i}` } });
    assert.equal(sent.status, 201);
  }
  await bob.page.getByTestId('bell-count').filter({ hasText: /^35$/ }).waitFor(WAIT);
  await bob.page.getByTestId('bell').click();
  const items = bob.page.getByTestId('notification');
  await items.filter({ hasText: 'note 35' }).waitFor(WAIT);
  assert.equal(await items.count(), 30, 'the newest 30 first');
  await bob.page.getByTestId('notifications-older').click();
  await items.filter({ hasText: /note 1(?!\d)/ }).waitFor(WAIT);
  await eventually('the first of the older ones has the focus', async () => ((await bob.page.evaluate(() => document.activeElement?.textContent)) ?? '').includes('note 5'));
  await eventually('every notification is listed once', async () => (await items.count()) === 35);
  await bob.page.getByTestId('notifications-older').waitFor({ state: 'detached', ...WAIT });

  assert.deepEqual(web.problems, []);
});
