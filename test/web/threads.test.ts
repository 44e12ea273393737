/**
 * Threads and reactions in the web app, in Chromium with two people against a real server:
 * replies stay out of the main list and count on their root live, the thread panel (its URL
 * surviving a reload and Back, its own screen with Back on a phone), the React picker (arrow
 * keys, Escape), reaction chips toggled live, the bound on distinct emoji as a clear message, a
 * reply shown as sending until the server has it, and the follow state read with the thread.
 */
import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import type { Message, StreamEvent, User } from '../../client/index.js';
import { Timeline } from '../../web/src/state/timeline.js';
import { browserHarness, needBrowser, WAIT } from '../support/browser.js';
import { api } from '../support/server.js';
import { connected, createRoom, eventually, joinFromDiscover, message, messages, PHONE, say, webApp, focused } from '../support/web-app.js';

const me: User = { id: 'u-me', username: 'me', displayName: 'Me' };
const bob: User = { id: 'u-bob', username: 'bob', displayName: 'Bob' };

function msg(seq: number, extra: Partial<Message> = {}): Message {
  return { roomId: 'r', seq, id: `id${seq}`, author: bob, body: `m${seq}`, createdAt: `2026-01-01T00:00:0${seq}.000Z`, editedAt: null, deleted: false, clientMsgId: null, ...extra };
}

function event(kind: StreamEvent['kind'], seq: number, extra: Partial<StreamEvent> = {}): StreamEvent {
  return { type: 'event', roomId: 'r', seq, kind, user: bob, createdAt: '2026-01-01T00:00:00.000Z', ...extra };
}

describe('Timeline with threads and reactions', () => {
  it('counts replies on their root instead of showing them, and folds reactions in', () => {
    const t = new Timeline(me);
    t.upsert(msg(1));
    t.apply(event('message', 2, { message: msg(2, { threadRoot: 1 }) }));
    assert.deepEqual(
      t.rows.value.map((r) => r.key),
      ['m1'],
      'the reply is no row',
    );
    assert.equal(t.message(1)?.replyCount, 1);
    assert.equal(t.message(1)?.lastReplyAt, '2026-01-01T00:00:02.000Z');
    assert.equal(t.newestSeq, 2);

    t.apply(event('reaction_added', 3, { target: 1, emoji: '👍' }));
    t.apply(event('reaction_added', 4, { target: 1, emoji: '👍', user: me }));
    assert.deepEqual(t.message(1)?.reactions, [{ emoji: '👍', count: 2, me: true }]);
    // An edit keeps what was derived; a delete of the reply seen live takes its count back.
    t.apply(event('edit', 5, { target: 1, message: msg(1, { body: 'edited', editedAt: '2026-01-01T00:01:00.000Z' }) }));
    assert.equal(t.message(1)?.body, 'edited');
    assert.equal(t.message(1)?.replyCount, 1);
    assert.equal(t.message(1)?.reactions?.length, 1);
    t.apply(event('delete', 6, { target: 2 }));
    assert.equal(t.message(1)?.replyCount, 0);
    t.apply(event('reaction_removed', 7, { target: 1, emoji: '👍', user: me }));
    assert.deepEqual(t.message(1)?.reactions, [{ emoji: '👍', count: 1, me: false }]);
  });

  it('leaves my pending message alone when a reply of mine with the same text comes in', () => {
    const t = new Timeline(me);
    t.upsert(msg(1));
    t.addPending(me, 'same');
    t.apply(event('message', 2, { user: me, message: msg(2, { author: me, body: 'same', threadRoot: 1 }) }));
    assert.deepEqual(
      t.rows.value.map((r) => r.type),
      ['message', 'pending'],
    );
  });
});

const harness = browserHarness({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000, AUTH_RATE_PER_MIN: 10_000, REACTIONS_PER_MESSAGE_MAX: 2 });
const web = webApp(harness);

test('replies in the thread panel, reply counts and reactions live, the thread at phone size', async (t) => {
  if (!needBrowser(t)) return;
  const alice = await web.person('alice', 'Alice');
  const roomId = await createRoom(alice.page, 'Orchard');
  const bob = await web.person('bob', 'Bob');
  await joinFromDiscover(bob.page, 'Orchard');
  await say(alice.page, 'Who waters the pears?');
  const root = message(bob.page, 'Who waters the pears?');
  await root.waitFor(WAIT);
  const seq = Number(await root.getAttribute('data-seq'));

  // Bob replies from the message's "Reply in thread" action: the panel, and the thread's URL.
  await root.hover();
  await root.getByTestId('reply-in-thread').click();
  const bobPanel = bob.page.getByTestId('thread-panel');
  await bobPanel.getByTestId('thread-root').filter({ hasText: 'Who waters the pears?' }).waitFor(WAIT);
  assert.ok(bob.page.url().endsWith(`#/rooms/${roomId}/thread/${seq}`), bob.page.url());
  await bobPanel.getByTestId('thread-composer').fill('I will, on Tuesdays');
  await bobPanel.getByTestId('thread-composer').press('Enter');
  await bobPanel.getByTestId('thread-reply').filter({ hasText: 'I will, on Tuesdays' }).waitFor(WAIT);
  await bobPanel.getByTestId('thread-follow').filter({ hasText: 'Unfollow' }).waitFor(WAIT);

  // Alice: the root counts the reply live; the reply is not in the main list.
  const aliceRoot = message(alice.page, 'Who waters the pears?');
  const summary = aliceRoot.getByTestId('thread-summary');
  await summary.filter({ hasText: '1 reply ·' }).waitFor(WAIT);
  assert.equal(await messages(alice.page).filter({ hasText: 'Tuesdays' }).count(), 0, 'replies stay out of the main list');
  assert.equal(await messages(bob.page).filter({ hasText: 'Tuesdays' }).count(), 0);
  await summary.click();
  const alicePanel = alice.page.getByTestId('thread-panel');
  await alicePanel.getByTestId('thread-reply').filter({ hasText: 'I will, on Tuesdays' }).waitFor(WAIT);
  // The root's author follows from the first reply; unfollowing and following again.
  const follow = alicePanel.getByTestId('thread-follow');
  await follow.filter({ hasText: 'Unfollow' }).waitFor(WAIT);
  await follow.click();
  await follow.filter({ hasText: 'Follow' }).and(alice.page.locator('[aria-pressed="false"]')).waitFor(WAIT);
  await follow.click();
  await follow.filter({ hasText: 'Unfollow' }).waitFor(WAIT);

  // The thread's address survives a reload; Back closes it.
  await alice.page.reload();
  await connected(alice.page);
  await alicePanel.getByTestId('thread-reply').filter({ hasText: 'I will, on Tuesdays' }).waitFor(WAIT);
  await alice.page.goBack();
  await alicePanel.waitFor({ state: 'detached', ...WAIT });
  await message(alice.page, 'Who waters the pears?').waitFor(WAIT);

  // Bob reacts with the picker, by keyboard: it opens on the first emoji, arrows move, Escape closes.
  await root.hover();
  await root.getByTestId('react').click();
  const picker = bob.page.getByTestId('emoji-picker');
  await picker.waitFor(WAIT);
  await eventually('the picker has focus on its first emoji', async () => (await bob.page.evaluate(() => document.activeElement?.textContent)) === '👍');
  await bob.page.keyboard.press('Escape');
  await picker.waitFor({ state: 'detached', ...WAIT });
  await focused(bob.page, 'react'); // back on React
  await bob.page.keyboard.press('Enter');
  await picker.waitFor(WAIT);
  await bob.page.keyboard.press('ArrowRight');
  await bob.page.keyboard.press('ArrowLeft');
  await bob.page.keyboard.press('Enter');
  await picker.waitFor({ state: 'detached', ...WAIT });

  // Alice sees "👍 1" live, not hers; a click makes it 2 and hers; Bob sees it too.
  const aliceChip = message(alice.page, 'Who waters the pears?').getByTestId('reaction');
  await aliceChip.filter({ hasText: '👍 1' }).and(alice.page.locator('[aria-pressed="false"]')).waitFor(WAIT);
  await aliceChip.click();
  await aliceChip.filter({ hasText: '👍 2' }).and(alice.page.locator('[aria-pressed="true"]')).waitFor(WAIT);
  await root.getByTestId('reaction').filter({ hasText: '👍 2' }).and(bob.page.locator('[aria-pressed="true"]')).waitFor(WAIT);
  // Bob's open thread shows the root's reactions too.
  await bobPanel.getByTestId('thread-root').getByTestId('reaction').filter({ hasText: '👍 2' }).waitFor(WAIT);

  // Past the room's bound on distinct emoji (2 here), the refusal says why.
  const token = await web.token(alice.username);
  const added = await api(harness.server().url, 'PUT', `/api/v1/rooms/${roomId}/messages/${seq}/reactions/${encodeURIComponent('🎉')}`, { token });
  assert.equal(added.status, 204);
  await aliceChip.filter({ hasText: '🎉 1' }).waitFor(WAIT);
  const aliceRootRow = message(alice.page, 'Who waters the pears?');
  await aliceRootRow.hover();
  await aliceRootRow.getByTestId('react').click();
  await alice.page.getByTestId('emoji-picker').getByRole('button', { name: 'React with 🔥' }).click();
  await alice.page.getByTestId('reaction-error').filter({ hasText: 'as many different reactions as it can take' }).waitFor(WAIT);

  // At phone size the open thread is a screen of its own, with Back to the room.
  await bob.page.setViewportSize(PHONE);
  await bobPanel.getByTestId('thread-back').waitFor(WAIT);
  await eventually('the room is hidden behind the thread', async () => !(await bob.page.getByTestId('message-list').isVisible()));
  await bobPanel.getByTestId('thread-back').click();
  await bobPanel.waitFor({ state: 'detached', ...WAIT });
  await root.waitFor(WAIT);
  assert.ok(await bob.page.getByTestId('message-list').isVisible());

  assert.deepEqual(web.problems, []);
});

test('a reply shows as sending until the server has it; the follow state comes with the thread', async (t) => {
  if (!needBrowser(t)) return;
  // Alice's replies are held on their way to the server while `holding`, then let through.
  let holding = false;
  const held: Array<() => void> = [];
  const alice = await web.person('alice', 'Alice', {
    prepare: (context) =>
      context.routeWebSocket(/\/ws(\?|$)/, (ws) => {
        const server = ws.connectToServer();
        server.onMessage((frame) => ws.send(frame));
        ws.onMessage((frame) => {
          if (holding && typeof frame === 'string' && frame.includes('"threadRoot"')) held.push(() => server.send(frame));
          else server.send(frame);
        });
      }),
  });
  const roomId = await createRoom(alice.page, 'Shed');
  await say(alice.page, 'Where is the rake?');
  const root = message(alice.page, 'Where is the rake?');
  const seq = Number(await root.getAttribute('data-seq'));
  // Alice follows the thread before anyone replies, then 100 newer ones: the thread's own page
  // says she follows it, wherever it is in her list of followed threads.
  const token = await web.token(alice.username);
  const base = harness.server().url;
  assert.equal((await api(base, 'PUT', `/api/v1/rooms/${roomId}/threads/${seq}/follow`, { token })).status, 204);
  for (let i = 1; i <= 100; i++) {
    const other = await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token, body: { body: `another question ${i}` } });
    assert.equal((await api(base, 'PUT', `/api/v1/rooms/${roomId}/threads/${other.body.message.seq}/follow`, { token })).status, 204);
  }
  const followed = await api(base, 'GET', '/api/v1/threads?limit=100', { token });
  assert.equal(
    followed.body.threads.some((th: { root: { seq: number } }) => th.root.seq === seq),
    false,
    'past the first 100 followed threads',
  );
  // The root is far up the room now: the thread opens by its address.
  await alice.page.goto(`${base}/#/rooms/${roomId}/thread/${seq}`);
  const panel = alice.page.getByTestId('thread-panel');
  await panel.getByTestId('thread-follow').filter({ hasText: 'Unfollow' }).and(alice.page.locator('[aria-pressed="true"]')).waitFor(WAIT);

  holding = true;
  await panel.getByTestId('thread-composer').fill('behind the door');
  await panel.getByTestId('thread-composer').press('Enter');
  const sending = panel.getByTestId('thread-sending').filter({ hasText: 'behind the door' });
  await sending.filter({ hasText: 'Sending…' }).waitFor(WAIT);
  assert.equal(await panel.getByTestId('thread-reply').count(), 0);
  await eventually('the reply reached the page’s socket', () => held.length === 1);
  holding = false;
  for (const send of held.splice(0)) send();
  await panel.getByTestId('thread-reply').filter({ hasText: 'behind the door' }).waitFor(WAIT);
  await sending.waitFor({ state: 'detached', ...WAIT });
  assert.equal(await panel.getByTestId('thread-reply').count(), 1, 'shown once');

  assert.deepEqual(web.problems, []);
});
