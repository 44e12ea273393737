/**
 * The administration page in Chromium against a real server: someone who is not a server
 * administrator reaches it from the sidebar and is told it is not theirs; an administrator sees
 * this node ready with the app's own connection counted (read again every few seconds, and no
 * more once they leave), disables, enables and resets the password of another user (the
 * server then refusing and accepting them as it should), sees a refused action's error, archives
 * a room (a DM has no such button), deletes and retries dead jobs, and finds all of it in the
 * audit log under their name. Server data shows as text only. Users, rooms and the audit log
 * are read a page at a time to their end.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { newId } from '../../src/domain/ids.js';
import { EXPORT_QUEUE } from '../../src/exports/exports.js';
import { makeAdmin, makeDeadJob } from '../support/admin.js';
import { browserHarness, needBrowser, WAIT } from '../support/browser.js';
import { api, createRoom } from '../support/server.js';
import { eventually, PASSWORD, webApp } from '../support/web-app.js';

/** Node statuses every half second: the app's own connection shows in the first read. */
const harness = browserHarness({ AUTH_RATE_PER_MIN: 10_000, NODE_STATUS_INTERVAL_MS: 500 });
/** Refusals by design: a non-administrator's read of the nodes, the role of a disabled account. */
const web = webApp(harness, [/\/api\/v1\/admin\/nodes$/, /\/api\/v1\/admin\/users\/[^/]+\/role$/]);
const url = (): string => harness.server().url;
const NODES = /\/api\/v1\/admin\/nodes$/;
/** As the page reads the nodes again (NODES_REFRESH_MS). */
const NODES_REFRESH_MS = 5_000;

/** A user made over REST, with a display name that would be markup if the page let it be. */
async function registerPerson(prefix: string): Promise<{ id: string; username: string; token: string }> {
  const username = `${prefix}${process.pid % 10_000}${Date.now() % 10_000}`;
  const res = await api(url(), 'POST', '/api/v1/auth/register', { body: { username, password: PASSWORD, displayName: `<img src=x onerror=alert(1)> ${prefix}` } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { id: res.body.user.id, username, token: res.body.token };
}

const login = (username: string, password: string) => api(url(), 'POST', '/api/v1/auth/login', { body: { username, password } });

const userRow = (page: Page, username: string): Locator => page.locator(`[data-testid="admin-user"][data-username="${username}"]`);
const auditEntry = (page: Page, action: string, admin: string, user?: string): Locator => {
  let entry = page.locator(`[data-testid="admin-audit-entry"][data-action="${action}"]`).filter({ has: page.getByTestId('admin-audit-actor').filter({ hasText: `@${admin}` }) });
  if (user !== undefined) entry = entry.filter({ has: page.getByTestId('admin-audit-user').filter({ hasText: `@${user}` }) });
  return entry.first();
};

test('someone who is not a server administrator has no link to the page, and is told it is not theirs at its address', async (t) => {
  if (!needBrowser(t)) return;
  const carol = await web.person('carol', 'Carol');
  await carol.page.getByTestId('room-list').waitFor({ ...WAIT, state: 'attached' });
  assert.equal(await carol.page.getByTestId('admin-link').count(), 0, 'no link for a non-administrator');
  await carol.page.evaluate(() => {
    location.hash = '#/admin';
  });
  const refused = carol.page.getByTestId('admin-refused');
  await refused.waitFor(WAIT);
  assert.equal(await refused.textContent(), 'Only server administrators can see this page.');
  assert.match(carol.page.url(), /#\/admin$/);
  assert.equal(await carol.page.getByTestId('admin-nodes').count(), 0, 'no section is shown');
  // The address survives a reload, and says the same.
  await carol.page.reload();
  await carol.page.getByTestId('admin-refused').waitFor(WAIT);
  assert.equal(await carol.page.getByTestId('admin-users').count(), 0);
  await carol.context.close();
  assert.deepEqual(web.problems, []);
});

test('a server administrator watches the nodes, manages users, rooms and dead jobs, and reads it all in the audit log', async (t) => {
  if (!needBrowser(t)) return;
  const server = harness.server();
  const root = await web.person('root', 'Root');
  const rootId = (await login(root.username, PASSWORD)).body.user.id as string;
  await makeAdmin(server, rootId);
  const rootToken = await web.token(root.username);
  const bob = await registerPerson('bob');
  const dave = await registerPerson('dave');
  const roomName = `Cellar ${bob.username}`;
  const roomId = await createRoom(url(), bob, 'public', roomName);
  const dm = await api(url(), 'POST', '/api/v1/dms', { token: bob.token, body: { username: root.username } });
  assert.ok(dm.status === 200 || dm.status === 201, JSON.stringify(dm.body));

  const page = root.page;
  // The app learns the role from GET /me: a reload shows the link.
  await page.reload();
  await page.getByTestId('admin-link').click();
  await page.getByTestId('admin-page').waitFor(WAIT);

  // Nodes: this one, ready, counting the app's own WebSocket (and so do the totals).
  const node = page.locator('[data-testid="admin-node"][data-ready="true"]');
  await node.waitFor(WAIT);
  assert.equal(await page.getByTestId('admin-node').count(), 1, 'one node');
  assert.equal(await node.getByTestId('node-state').textContent(), 'Ready');
  await node.getByTestId('node-connections').filter({ hasText: /^[1-9]\d*$/ }).waitFor({ timeout: NODES_REFRESH_MS * 3 });
  await page.getByTestId('nodes-total-connections').filter({ hasText: /^[1-9]\d*$/ }).waitFor({ timeout: NODES_REFRESH_MS * 3 });

  // Users: Bob found by the start of his username; his display name is text, not an image.
  await page.getByTestId('admin-user-search').fill(bob.username.slice(0, -2));
  const bobRow = userRow(page, bob.username);
  await bobRow.waitFor(WAIT);
  assert.match((await bobRow.textContent()) ?? '', /<img src=x onerror=alert\(1\)> bob/);
  assert.equal(await page.getByTestId('admin-page').locator('img').count(), 0);

  // Disabled: his token is refused, and so is his password, saying why.
  await bobRow.getByTestId('admin-user-disable').click();
  await bobRow.and(page.locator('[data-state="disabled"]')).waitFor(WAIT);
  await page.getByTestId('admin-users-status').filter({ hasText: `@${bob.username} is disabled` }).waitFor(WAIT);
  assert.equal((await api(url(), 'GET', '/api/v1/me', { token: bob.token })).status, 401);
  const refused = await login(bob.username, PASSWORD);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.details.reason, 'account_disabled');

  // Enabled again: he logs in with his password.
  await bobRow.getByTestId('admin-user-enable').click();
  await bobRow.and(page.locator('[data-state="active"]')).waitFor(WAIT);
  assert.equal((await login(bob.username, PASSWORD)).status, 200);

  // A new password, asked first and shown once: it works, the old one no longer does.
  await bobRow.getByTestId('admin-user-password').click();
  await page.getByTestId('confirm-ok').click();
  const shown = page.getByTestId('admin-secret-password');
  await shown.waitFor(WAIT);
  const password = (await shown.textContent()) ?? '';
  assert.ok(password.length >= 8, `a password was shown: ${password}`);
  assert.equal((await login(bob.username, password)).status, 200);
  assert.equal((await login(bob.username, PASSWORD)).status, 401);
  await page.getByTestId('admin-secret-done').click();
  await shown.waitFor({ state: 'detached', ...WAIT });

  // A refused action says why: Dave, disabled meanwhile over REST, cannot be made an administrator.
  await page.getByTestId('admin-user-search').fill(dave.username);
  const daveRow = userRow(page, dave.username);
  await daveRow.getByTestId('admin-user-admin').waitFor(WAIT);
  assert.equal((await api(url(), 'POST', `/api/v1/admin/users/${dave.id}/disable`, { token: rootToken })).status, 200);
  await daveRow.getByTestId('admin-user-admin').click();
  await page.getByTestId('confirm-ok').click();
  await page.getByTestId('confirm-dialog').getByRole('alert').filter({ hasText: 'A disabled account cannot administer the server.' }).waitFor(WAIT);
  await page.getByTestId('confirm-cancel').click();
  await page.getByTestId('confirm-dialog').waitFor({ state: 'hidden', ...WAIT });
  // Nobody acts on themselves here.
  await page.getByTestId('admin-user-search').fill(root.username);
  await userRow(page, root.username).waitFor(WAIT);
  assert.equal(await userRow(page, root.username).getByRole('button').count(), 0);

  // Rooms: Bob's room archived, as REST says after; the DM between Bob and me has no such button.
  await page.getByTestId('admin-room-search').fill(bob.username);
  const roomRow = page.locator(`[data-testid="admin-room"][data-room-id="${roomId}"]`);
  await roomRow.getByTestId('admin-room-archive').click();
  await roomRow.and(page.locator('[data-archived="true"]')).waitFor(WAIT);
  const listed = await api<{ rooms: Array<{ id: string; archived?: boolean }> }>(url(), 'GET', `/api/v1/admin/rooms?q=${encodeURIComponent(roomName)}`, { token: rootToken });
  assert.equal(listed.body.rooms.find((r) => r.id === roomId)?.archived, true);
  const dmRow = page.locator(`[data-testid="admin-room"][data-room-id="${dm.body.room.id}"]`);
  await dmRow.waitFor(WAIT);
  assert.equal(await dmRow.getByRole('button').count(), 0, 'a DM cannot be archived');

  // Jobs: a dead export job, with its error; one retried, one deleted, then every dead one at once.
  const first = await makeDeadJob(server, rootId, roomId);
  await page.getByTestId('admin-jobs-refresh').click();
  const deadRow = (id: string) => page.locator(`[data-testid="admin-dead-job"][data-job-id="${id}"]`);
  await deadRow(first).waitFor(WAIT);
  assert.notEqual(((await deadRow(first).getByTestId('admin-dead-job-error').textContent()) ?? '').trim(), '');
  await deadRow(first).getByTestId('admin-dead-retry').click();
  await page.getByTestId('admin-jobs-status').filter({ hasText: `Job ${first} of ${EXPORT_QUEUE} runs again.` }).waitFor(WAIT);
  // It dies again (its owner is still no member): then deleted from its row.
  await eventually('the retried job is dead again', async () => (await server.parley.services.jobs.deadLetters(EXPORT_QUEUE, 1_000)).some((d) => d.id === first));
  await page.getByTestId('admin-jobs-refresh').click();
  await deadRow(first).getByTestId('admin-dead-delete').click();
  await page.getByTestId('admin-jobs-status').filter({ hasText: `Job ${first} of ${EXPORT_QUEUE} was deleted.` }).waitFor(WAIT);
  await deadRow(first).waitFor({ state: 'detached', ...WAIT });
  const second = await makeDeadJob(server, rootId, roomId);
  await page.getByTestId('admin-jobs-refresh').click();
  await deadRow(second).waitFor(WAIT);
  await page.locator(`[data-testid="admin-dead-jobs"][data-queue="${EXPORT_QUEUE}"]`).getByTestId('admin-dead-purge-all').click();
  await page.getByTestId('confirm-ok').click();
  await page.getByTestId('admin-jobs-status').filter({ hasText: `1 dead job of ${EXPORT_QUEUE} deleted.` }).waitFor(WAIT);
  await page.locator(`[data-testid="admin-queue"][data-queue="${EXPORT_QUEUE}"]`).getByTestId('admin-queue-dead').filter({ hasText: /^0$/ }).waitFor(WAIT);
  assert.equal(await deadRow(second).count(), 0);

  // The audit log, newest first, names me for each of those.
  for (const action of ['user_disabled', 'user_enabled', 'password_reset']) await auditEntry(page, action, root.username, bob.username).waitFor(WAIT);
  await auditEntry(page, 'user_disabled', root.username, dave.username).waitFor(WAIT);
  for (const action of ['room_archived', 'job_retried', 'jobs_purged']) await auditEntry(page, action, root.username).waitFor(WAIT);
  const actions = await page.getByTestId('admin-audit-entry').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
  assert.equal(actions.indexOf('jobs_purged') < actions.indexOf('room_archived') && actions.indexOf('room_archived') < actions.indexOf('password_reset'), true, `newest first: ${actions.join(', ')}`);

  // The nodes are read again every few seconds while the page is open, and no more once it is left.
  await page.waitForRequest(NODES, { timeout: NODES_REFRESH_MS * 2 });
  let readsAfter = 0;
  page.on('request', (request) => {
    if (NODES.test(request.url())) readsAfter++;
  });
  await page.evaluate(() => {
    location.hash = '#/';
  });
  await page.getByTestId('empty-pane').waitFor(WAIT);
  // Only waiting shows that nothing more comes: one interval and a half.
  await page.waitForTimeout(NODES_REFRESH_MS * 1.5);
  assert.equal(readsAfter, 0, 'no read of the nodes after leaving the page');
  assert.deepEqual(web.problems, []);
});

test('users, rooms and the audit log are read a page at a time: each "more" adds the next page, nothing twice, until the last', async (t) => {
  if (!needBrowser(t)) return;
  const server = harness.server();
  const { store } = server.parley.services;
  const pager = await web.person('pager', 'Pager');
  const pagerId = (await login(pager.username, PASSWORD)).body.user.id as string;
  await makeAdmin(server, pagerId);
  // Past one page (50) of each, made in the store: 60 users, 55 rooms, 60 audit entries.
  const tag = `pg${process.pid % 1_000}${Date.now() % 1_000}`;
  const usernames: string[] = [];
  for (let i = 0; i < 60; i++) {
    const username = `${tag}_${String(i).padStart(2, '0')}`;
    const id = newId();
    await store.createUser({ id, username, displayName: `Paged ${i}`, passwordHash: 'scrypt$x', createdAt: Date.now() });
    await store.recordServerAudit({ at: Date.now(), action: 'user_created', actorId: pagerId, via: 'console', userId: id, roomId: null, data: { username } });
    usernames.push(username);
  }
  const roomIds: string[] = [];
  for (let i = 0; i < 55; i++) {
    const id = newId();
    await store.createRoom({ id, name: `Paged ${tag} ${i}`, visibility: i % 3 === 0 ? 'private' : 'public', topic: '', createdAt: Date.now() + i }, pagerId);
    roomIds.push(id);
  }
  const page = pager.page;
  await page.reload();
  await page.getByTestId('admin-link').click();
  await page.getByTestId('admin-page').waitFor(WAIT);

  /** Clicks `more` until it is gone, each click adding rows; answers the rows' `attribute`s. */
  async function readToTheEnd(rows: Locator, more: Locator, attribute: string, total: number): Promise<string[]> {
    await rows.nth(49).waitFor(WAIT);
    assert.equal(await rows.count(), 50, 'one page first');
    for (let clicks = 0; (await rows.count()) < total; clicks++) {
      assert.ok(clicks < 10, 'at most a few pages');
      const before = await rows.count();
      await more.click();
      await rows.nth(before).waitFor(WAIT);
    }
    await eventually('no more after the last page', async () => (await more.count()) === 0);
    assert.equal(await rows.count(), total);
    return rows.evaluateAll((els, name) => els.map((e) => e.getAttribute(name) ?? ''), attribute);
  }

  await page.getByTestId('admin-user-search').fill(tag);
  const users = await readToTheEnd(page.getByTestId('admin-users').locator(`[data-testid="admin-user"][data-username^="${tag}"]`), page.getByTestId('admin-users-more'), 'data-username', 60);
  assert.deepEqual(users, usernames, 'every user once, by username');

  await page.getByTestId('admin-room-search').fill(tag);
  const rooms = await readToTheEnd(page.getByTestId('admin-room'), page.getByTestId('admin-rooms-more'), 'data-room-id', 55);
  assert.deepEqual(rooms, [...roomIds].reverse(), 'every room once, newest first');

  const total = (await store.listServerAudit(undefined, 1_000)).length;
  assert.ok(total > 50);
  const entries = await readToTheEnd(page.getByTestId('admin-audit-entry'), page.getByTestId('admin-audit-older'), 'data-entry-id', total);
  const ids = entries.map(Number);
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
  assert.equal(new Set(ids).size, total, 'no entry twice');
  assert.deepEqual(web.problems, []);
});
