/**
 * The SDK's administration calls (`client.rest.admin`) against a real node, typed end to end:
 * anyone but a server administrator is refused by every one of them (`isServerRoleRefusal`);
 * an administrator creates, disables, enables, resets, revokes, grants, deletes, archives, and
 * handles dead jobs; every list is followed page by page to its end, with nothing repeated or
 * missed; and the audit log, read the same way, names each action newest first.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AdminClient, type AdminRoom, type AdminUser, isServerRoleRefusal, ParleyClient, ParleyError, type ServerAuditEntry } from '../../client/index.js';
import { EXPORT_QUEUE } from '../../src/exports/exports.js';
import { makeAdmin, makeDeadJob } from '../support/admin.js';
import { createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';

const PASSWORD = 'correct horse battery';

async function refusal(call: Promise<unknown>): Promise<ParleyError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ParleyError, `a ParleyError, not ${String(error)}`);
    return error;
  }
  assert.fail('the call was not refused');
}

/** Every page of a list, followed by its cursor to the end. */
async function all<T>(read: (after: string | undefined) => Promise<{ items: T[]; next: string | null }>): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let pages = 1; pages <= 100; pages++) {
    const page = await read(cursor);
    items.push(...page.items);
    if (page.next === null) return { items, pages };
    cursor = page.next;
  }
  throw new Error('more than 100 pages');
}

describe('client SDK: administration', () => {
  let server: TestServer;
  let root: TestUser;
  let mallory: TestUser;
  let admin: AdminClient;
  let refused: AdminClient;
  const client = (token: string) => new ParleyClient({ baseUrl: server.url, token, requestTimeoutMs: 5000 });

  before(async () => {
    server = await startTestServer({ AUTH_RATE_PER_MIN: 10_000, NODE_STATUS_INTERVAL_MS: 500 });
    root = await registerUser(server.url, 'sdkroot');
    mallory = await registerUser(server.url, 'sdkmallory');
    await makeAdmin(server, root.id);
    admin = client(root.token).rest.admin;
    refused = client(mallory.token).rest.admin;
  });
  after(async () => server?.stop());

  it('refuses every call to someone who is not a server administrator, with server_role', async () => {
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['nodes', () => refused.nodes()],
      ['users', () => refused.users()],
      ['user', () => refused.user(root.id)],
      ['createUser', () => refused.createUser({ username: 'sdk_sneaky' })],
      ['setDisabled', () => refused.setDisabled(root.id, true)],
      ['deleteUser', () => refused.deleteUser(root.id)],
      ['resetPassword', () => refused.resetPassword(root.id, 'mallory was here')],
      ['revokeSessions', () => refused.revokeSessions(root.id)],
      ['setRole', () => refused.setRole(mallory.id, 'admin')],
      ['rooms', () => refused.rooms()],
      ['setArchived', () => refused.setArchived('no-such-room', true)],
      ['jobCounts', () => refused.jobCounts()],
      ['deadJobs', () => refused.deadJobs(EXPORT_QUEUE)],
      ['retryDeadJob', () => refused.retryDeadJob(EXPORT_QUEUE, 'nope')],
      ['purgeDeadJobs', () => refused.purgeDeadJobs(EXPORT_QUEUE)],
      ['audit', () => refused.audit()],
    ];
    for (const [name, call] of calls) {
      const error = await refusal(call());
      assert.ok(isServerRoleRefusal(error), `${name}: ${error.code} ${JSON.stringify(error.details)}`);
      assert.equal(error.status, 403, name);
    }
    // Nothing changed: the administrator still logs in and nobody was made one.
    assert.equal((await admin.user(root.id)).role, 'admin');
    assert.equal((await admin.user(mallory.id)).role, null);
    assert.deepEqual((await admin.audit()).entries, []);
    // A refusal of another kind is not taken for this one.
    assert.equal(isServerRoleRefusal(await refusal(admin.user('no-such-user'))), false);
  });

  it('manages an account from creation to deletion, each step seen from outside', async () => {
    const created = await admin.createUser({ username: 'sdk_carol', displayName: 'Carol' });
    assert.equal(typeof created.password, 'string');
    assert.equal(created.user.username, 'sdk_carol');
    const carol = client('');
    carol.rest.token = (await carol.rest.login({ username: 'sdk_carol', password: created.password as string })).token;
    assert.equal((await carol.rest.me()).displayName, 'Carol');

    assert.notEqual((await admin.setDisabled(created.user.id, true)).disabledAt, null);
    assert.equal((await refusal(carol.rest.me())).code, 'unauthorized', 'the session ended with the disable');
    const disabledLogin = await refusal(carol.rest.login({ username: 'sdk_carol', password: created.password as string }));
    assert.equal(disabledLogin.details?.reason, 'account_disabled');
    assert.equal((await admin.setDisabled(created.user.id, false)).disabledAt, null);

    const reset = await admin.resetPassword(created.user.id, PASSWORD);
    assert.equal(reset.password, null, 'a password given is not answered back');
    carol.rest.token = (await carol.rest.login({ username: 'sdk_carol', password: PASSWORD })).token;
    const made = await admin.resetPassword(created.user.id);
    assert.equal(typeof made.password, 'string');
    assert.equal(made.sessionsRevoked, 1);
    carol.rest.token = (await carol.rest.login({ username: 'sdk_carol', password: made.password as string })).token;
    assert.equal(await admin.revokeSessions(created.user.id), 1);
    assert.equal((await refusal(carol.rest.me())).code, 'unauthorized');

    assert.equal((await admin.setRole(created.user.id, 'admin')).role, 'admin');
    assert.equal((await admin.setRole(created.user.id, null)).role, null);

    await admin.deleteUser(created.user.id);
    await admin.deleteUser(created.user.id);
    const gone = await admin.user(created.user.id);
    assert.notEqual(gone.deletedAt, null);
    assert.notEqual(gone.username, 'sdk_carol');
    assert.deepEqual((await admin.users({ q: 'sdk_carol' })).users, [], 'the old name belongs to nobody');

    const actions = (await admin.audit({ limit: 10 })).entries.filter((e) => e.user?.id === created.user.id).map((e) => e.action);
    assert.deepEqual(actions, ['user_deleted', 'role_revoked', 'role_granted', 'sessions_revoked', 'password_reset', 'password_reset', 'user_enabled', 'user_disabled', 'user_created']);
  });

  it('follows the users, filtered and searched, page by page without a repeat or a gap', async () => {
    const paged: string[] = [];
    for (let i = 0; i < 7; i++) paged.push((await registerUser(server.url, 'sdkpage')).username);
    const disabled = await registerUser(server.url, 'sdkpagedis');
    await admin.setDisabled(disabled.id, true);

    const everyone = await all(async (after) => {
      const page = await admin.users({ after, limit: 3 });
      return { items: page.users, next: page.next };
    });
    const names = everyone.items.map((u: AdminUser) => u.username);
    assert.equal(new Set(names).size, names.length, 'no user twice');
    assert.deepEqual(names, [...names].sort(), 'by username');
    assert.ok(everyone.pages >= 4, `${everyone.pages} pages`);
    for (const name of [root.username, mallory.username, disabled.username, ...paged]) assert.ok(names.includes(name), name);

    const searched = await all(async (after) => {
      const page = await admin.users({ q: 'SDKPAGE', state: 'active', after, limit: 2 });
      return { items: page.users, next: page.next };
    });
    assert.deepEqual(
      searched.items.map((u) => u.username),
      [...paged].sort(),
      'a search is a prefix, lower-cased; active leaves the disabled one out',
    );
    assert.deepEqual((await admin.users({ q: 'sdkpage', state: 'disabled' })).users.map((u) => u.username), [disabled.username]);
    // An empty search and an empty cursor are the first page of everything.
    assert.deepEqual((await admin.users({ q: '', after: '', limit: 3 })).users, everyone.items.slice(0, 3));
  });

  it('follows the rooms page by page, and archives and opens one the administrator is not in', async () => {
    const owner = await registerUser(server.url, 'sdkowner');
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push(await createRoom(server.url, owner, i % 2 === 0 ? 'public' : 'private', `sdk room ${i}`));
    const rooms = await all(async (after) => {
      const page = await admin.rooms({ q: 'SDK ROOM', after, limit: 2 });
      return { items: page.rooms, next: page.next };
    });
    assert.equal(rooms.pages, 3);
    assert.deepEqual(
      rooms.items.map((r: AdminRoom) => r.id),
      [...made].reverse(),
      'newest first, private ones too',
    );
    const archived = await admin.setArchived(made[1] as string, true);
    assert.equal(archived.archived, true);
    assert.equal((await admin.setArchived(made[1] as string, false)).archived, undefined);
    assert.equal((await refusal(admin.setArchived('no-such-room', true))).code, 'not_found');
  });

  it('counts, lists, retries and purges dead jobs', async () => {
    const room = await createRoom(server.url, root, 'public', 'sdk jobs');
    const first = await makeDeadJob(server, mallory.id, room);
    const second = await makeDeadJob(server, mallory.id, room);
    const counts = (await admin.jobCounts()).find((q) => q.queue === EXPORT_QUEUE);
    assert.ok(counts !== undefined && counts.dead >= 2, JSON.stringify(counts));
    const dead = await admin.deadJobs(EXPORT_QUEUE);
    assert.deepEqual(new Set(dead.map((j) => j.id)), new Set([first, second]));
    assert.ok(dead.every((j) => typeof j.error === 'string' && j.error !== ''), 'each with its error');
    assert.equal((await admin.deadJobs(EXPORT_QUEUE, 1)).length, 1);

    await admin.retryDeadJob(EXPORT_QUEUE, first);
    assert.equal(await admin.purgeDeadJobs(EXPORT_QUEUE, second), 1);
    // The retried job dies again (its owner is still no member): the purge of all takes it.
    const deadline = Date.now() + 30_000;
    while (!(await admin.deadJobs(EXPORT_QUEUE)).some((j) => j.id === first)) {
      assert.ok(Date.now() < deadline, 'the retried job ran and died again');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await admin.purgeDeadJobs(EXPORT_QUEUE), 1);
    assert.deepEqual(await admin.deadJobs(EXPORT_QUEUE), []);
    assert.equal((await refusal(admin.deadJobs('no-such-queue'))).code, 'not_found');
  });

  it('lists the node, and reads the whole audit log back page by page, newest first', async () => {
    const nodes = await admin.nodes();
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0]?.ready, true);

    const everything = await all(async (after) => {
      const page = await admin.audit({ before: after === undefined ? undefined : Number(after), limit: 4 });
      return { items: page.entries, next: page.nextBefore === null ? null : String(page.nextBefore) };
    });
    const ids = everything.items.map((e: ServerAuditEntry) => e.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
    assert.equal(new Set(ids).size, ids.length, 'no entry twice');
    assert.deepEqual(everything.items, (await admin.audit({ limit: 200 })).entries, 'the pages together are the log');
    assert.ok(everything.items.every((e) => e.actor?.id === root.id && e.via === 'api'));
    for (const action of ['user_created', 'user_deleted', 'room_archived', 'room_opened', 'job_retried', 'jobs_purged']) {
      assert.ok(everything.items.some((e) => e.action === action), action);
    }
  });
});
