/**
 * The web app's message features, in Chromium with two people against a real server: Markdown
 * and links, mentions suggested from the room's members, editing (the Edit button and the Up arrow), deleting after a confirmation, a link
 * to a message that opens it in context and survives a reload and Back, search with the
 * matches marked and a jump to the hit, the unread count in the tab title, the "new messages"
 * divider and the jump to the first unread, the "new messages below" hint while scrolled up,
 * and the live region announcing new messages.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserHarness, needBrowser, WAIT } from '../support/browser.js';
import { api } from '../support/server.js';
import { createRoom, eventually, inView, joinFromDiscover, message, messages, openRoomPane, roomItem, say, webApp, focused } from '../support/web-app.js';

const harness = browserHarness({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000, AUTH_RATE_PER_MIN: 10_000 });
const web = webApp(harness);
const url = (): string => harness.server().url;

async function post(token: string, roomId: string, body: string): Promise<number> {
  const res = await api(url(), 'POST', `/api/v1/rooms/${roomId}/messages`, { token, body: { body } });
  assert.equal(res.status, 201);
  return res.body.message.seq as number;
}

test('Markdown, edit (button and Up arrow), delete after confirmation, live region', async (t) => {
  if (!needBrowser(t)) return;
  const alice = await web.person('alice', 'Alice');
  await createRoom(alice.page, 'Garden');
  const bob = await web.person('bob', 'Bob');
  await joinFromDiscover(bob.page, 'Garden');

  // Markdown through the shared renderer: formatting, a safe link, code, and Bob's mention marked for him.
  await alice.page.getByTestId('composer').fill(`**bold** and a [link](https://example.com/x) and \`code\` for @${bob.username}`);
  await alice.page.getByTestId('composer').press('Enter');
  const seen = message(bob.page, 'bold and a link');
  await seen.waitFor(WAIT);
  assert.equal(await seen.locator('strong').textContent(), 'bold');
  assert.equal(await seen.locator('code').textContent(), 'code');
  const link = seen.getByRole('link', { name: 'link' });
  assert.equal(await link.getAttribute('href'), 'https://example.com/x');
  assert.equal(await link.getAttribute('rel'), 'noopener noreferrer nofollow');
  assert.equal(await link.getAttribute('target'), '_blank');
  assert.equal(await seen.locator('.mention-me').textContent(), `@${bob.username}`);
  assert.equal(await message(alice.page, 'bold and a link').locator('.mention-me').count(), 0, 'not highlighted for Alice');
  // The live region told Bob.
  await bob.page.getByTestId('announcer').filter({ hasText: 'Alice: **bold**' }).waitFor(WAIT);

  // @ suggests the room's members: Enter takes the highlighted one, by username.
  await alice.page.getByTestId('composer').fill(`thanks @${bob.username.slice(0, 3)}`);
  const option = alice.page.getByTestId('mention-option');
  await option.filter({ hasText: `@${bob.username}` }).waitFor(WAIT);
  assert.equal(await option.count(), 1, 'only Bob: never me');
  await alice.page.getByTestId('composer').press('Enter');
  assert.equal(await alice.page.getByTestId('composer').inputValue(), `thanks @${bob.username} `);
  await alice.page.getByTestId('mention-options').waitFor({ state: 'hidden', ...WAIT });
  await alice.page.getByTestId('composer').press('End');
  await alice.page.keyboard.type('for the seeds');
  await alice.page.getByTestId('composer').press('Enter');
  await message(bob.page, 'for the seeds').locator('.mention-me').waitFor(WAIT);

  // Edit with the button: Enter saves, Bob sees the new text and the mark.
  await say(alice.page, 'first draft');
  const mine = message(alice.page, 'first draft');
  await mine.hover();
  await mine.getByTestId('edit-message').click();
  await alice.page.getByTestId('edit-input').fill('second draft');
  await alice.page.getByTestId('edit-input').press('Enter');
  const edited = message(bob.page, 'second draft');
  await edited.getByTestId('edited').waitFor(WAIT);
  // The editor closes when the server has taken the edit, which may be after Bob sees it.
  await alice.page.getByTestId('edit-input').waitFor({ state: 'detached', ...WAIT });
  await focused(alice.page, 'composer');

  // The Up arrow in the empty composer edits my last message; Escape cancels, Enter saves.
  await alice.page.getByTestId('composer').press('ArrowUp');
  assert.equal(await alice.page.getByTestId('edit-input').inputValue(), 'second draft');
  await alice.page.getByTestId('edit-input').press('Escape');
  await alice.page.getByTestId('edit-input').waitFor({ state: 'detached', ...WAIT });
  await alice.page.getByTestId('composer').press('ArrowUp');
  await alice.page.getByTestId('edit-input').fill('third draft');
  await alice.page.getByTestId('edit-input').press('Enter');
  await message(bob.page, 'third draft').getByTestId('edited').waitFor(WAIT);

  // Delete asks first: Cancel keeps the message, Delete makes it a tombstone for both.
  const row = message(alice.page, 'third draft');
  const seq = await row.getAttribute('data-seq');
  await row.hover();
  await row.getByTestId('delete-message').click();
  const dialog = alice.page.getByTestId('confirm-dialog');
  await dialog.waitFor({ state: 'visible', ...WAIT });
  await focused(alice.page, 'confirm-cancel'); // the safe answer
  await alice.page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden', ...WAIT });
  assert.equal(await message(alice.page, 'third draft').count(), 1);
  await row.hover();
  await row.getByTestId('delete-message').click();
  await alice.page.getByTestId('confirm-ok').click();
  await dialog.waitFor({ state: 'hidden', ...WAIT });
  for (const page of [alice.page, bob.page]) {
    await page.locator(`[data-testid="message"][data-seq="${seq}"]`).getByTestId('message-body').filter({ hasText: 'message deleted' }).waitFor(WAIT);
  }
  // Bob is not the room's owner: he may not delete Alice's messages, so is not offered to.
  await message(bob.page, 'bold and a link').hover();
  assert.equal(await message(bob.page, 'bold and a link').getByTestId('delete-message').count(), 0);
  assert.equal(await message(bob.page, 'bold and a link').getByTestId('edit-message').count(), 0);
});

test('a link to a message opens it in context, and survives a reload and Back; search marks matches and jumps to the hit', async (t) => {
  if (!needBrowser(t)) return;
  const alice = await web.person('alice', 'Alice', { permissions: ['clipboard-read', 'clipboard-write'] });
  const roomId = await createRoom(alice.page, 'Library');
  const token = await web.token(alice.username);
  const needle = await post(token, roomId, 'the pineapple is in the pantry');
  for (let i = 1; i <= 70; i++) await post(token, roomId, `filler ${i}`);
  await createRoom(alice.page, 'Hall');

  // The search: the match marked, the hit a link into the room, at the message, in context.
  await alice.page.getByTestId('search-input').fill('pineapple');
  await alice.page.getByTestId('search-input').press('Enter');
  const hit = alice.page.getByTestId('search-hit');
  await eventually('the search finds the message', async () => {
    if ((await hit.count()) > 0) return true;
    await alice.page.reload();
    return false;
  });
  assert.equal(await hit.locator('mark').textContent(), 'pineapple');
  assert.match(alice.page.url(), /#\/search\?q=pineapple$/);
  await hit.getByRole('link').click();
  await openRoomPane(alice.page, '# Library').waitFor(WAIT);
  const target = alice.page.locator(`[data-testid="message"][data-seq="${needle}"]`);
  await target.and(alice.page.locator('.highlighted')).waitFor(WAIT);
  assert.equal(await inView(target), true);
  assert.match(alice.page.url(), new RegExp(`#/rooms/${roomId}/${needle}$`));
  // Newer messages are not loaded yet: a button goes to the latest ones.
  assert.equal(await message(alice.page, /^filler 70$/).count(), 0);
  await alice.page.getByTestId('new-below').click();
  await message(alice.page, /^filler 70$/).waitFor(WAIT);

  // Back returns to the search, Back again to the Hall.
  await alice.page.goBack();
  await alice.page.getByTestId('search-results').waitFor(WAIT);
  await alice.page.goBack();
  await openRoomPane(alice.page, '# Hall').waitFor(WAIT);

  // Copy a message's link; opened in the page (and reloaded) it shows that message.
  await roomItem(alice.page, 'Library').getByRole('link').click();
  const filler = message(alice.page, /^filler 60$/);
  await filler.hover();
  await filler.getByTestId('copy-link').click();
  await alice.page.getByTestId('room-status').filter({ hasText: 'Link copied.' }).waitFor(WAIT);
  const copied = await alice.page.evaluate(() => navigator.clipboard.readText());
  const fillerSeq = await filler.getAttribute('data-seq');
  assert.equal(copied, `${url()}/#/rooms/${roomId}/${fillerSeq}`);
  await roomItem(alice.page, 'Hall').getByRole('link').click();
  await alice.page.goto(copied);
  await alice.page.locator(`[data-testid="message"][data-seq="${fillerSeq}"].highlighted`).waitFor(WAIT);
  await alice.page.reload();
  await alice.page.locator(`[data-testid="message"][data-seq="${fillerSeq}"].highlighted`).waitFor(WAIT);
  assert.equal(await alice.page.title(), '# Library · Parley');
});

test('unread in the title, the divider and the jump to the first unread, the hint while scrolled up', async (t) => {
  if (!needBrowser(t)) return;
  const alice = await web.person('alice', 'Alice');
  const roomId = await createRoom(alice.page, 'Porch');
  const bob = await web.person('bob', 'Bob');
  await joinFromDiscover(bob.page, 'Porch');
  const bobToken = await web.token(bob.username);
  await createRoom(alice.page, 'Attic');

  // Three messages while Alice is elsewhere: her tab says so.
  for (const text of ['one', 'two', 'three']) await say(bob.page, text);
  await eventually('the title counts 3 unread', async () => (await alice.page.title()) === '(3) # Attic · Parley');
  await roomItem(alice.page, 'Porch').getByRole('link').click();
  const divider = alice.page.getByTestId('unread-divider');
  await divider.waitFor(WAIT);
  // The divider sits right above Bob's first unread message.
  assert.equal(await divider.evaluate((el) => el.nextElementSibling?.querySelector('[data-testid="message-body"]')?.textContent), 'one');
  await eventually('the title counts nothing', async () => (await alice.page.title()) === '# Porch · Parley');

  // Sixty more while she is away: the first unread is not on the first page; the button loads it.
  await roomItem(alice.page, 'Attic').getByRole('link').click();
  for (let i = 1; i <= 60; i++) await post(bobToken, roomId, `later ${i}`);
  await eventually('the title counts 60 unread', async () => (await alice.page.title()).startsWith('(60)'));
  await roomItem(alice.page, 'Porch').getByRole('link').click();
  await message(alice.page, /^later 60$/).waitFor(WAIT);
  assert.equal(await divider.count(), 0, 'the first unread is not loaded');
  await alice.page.getByTestId('jump-unread').click();
  await divider.waitFor(WAIT);
  assert.equal(await divider.evaluate((el) => el.nextElementSibling?.querySelector('[data-testid="message-body"]')?.textContent), 'later 1');
  assert.equal(await inView(divider), true);

  // Back at the newest; scrolled up, a new message shows as a hint, not a jump.
  await alice.page.getByTestId('new-below').click();
  await message(alice.page, /^later 60$/).waitFor(WAIT);
  await alice.page.getByTestId('message-list').evaluate((el) => {
    el.scrollTop = 0;
  });
  await say(bob.page, 'are you there?');
  const hint = alice.page.getByTestId('new-below');
  await hint.filter({ hasText: '1 new message below' }).waitFor(WAIT);
  assert.equal(await inView(message(alice.page, 'are you there?')), false, 'the reader stayed where they were');
  await hint.click();
  await hint.waitFor({ state: 'detached', ...WAIT });
  await eventually('the newest message is in view', () => inView(message(alice.page, 'are you there?')));
  assert.ok((await messages(alice.page).count()) > 0);
});

test('no console errors and no CSP violations on any page', (t) => {
  if (!needBrowser(t)) return;
  assert.deepEqual(web.problems, []);
});
