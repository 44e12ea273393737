/**
 * The SDK's people methods against a real server, typed end to end: a profile change answered
 * and heard live as `user_updated` by another client, user search followed page by page,
 * member pages with roles and presence, and a refused change as a typed error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { type Member, ParleyClient, type User, type UserUpdatedEvent } from '../../client/index.js';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';

const fast = { backoff: { initialMs: 50, maxMs: 500 }, requestTimeoutMs: 5000 };

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('client SDK: people', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let roomId: string;
  const clients: ParleyClient[] = [];
  before(async () => {
    server = await startTestServer({ AUTH_RATE_PER_MIN: 10_000 });
    alice = await registerUser(server.url, 'sdkpa');
    bob = await registerUser(server.url, 'sdkpb');
    roomId = await createRoom(server.url, alice, 'public', 'sdk people');
    await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });
  });
  after(async () => {
    for (const c of clients) await c.close();
    await server?.stop();
  });

  it('updateProfile answers the user and another client hears user_updated', async () => {
    const a = new ParleyClient({ baseUrl: server.url, token: alice.token, WebSocket, ...fast });
    const b = new ParleyClient({ baseUrl: server.url, token: bob.token, WebSocket, ...fast });
    clients.push(a, b);
    const heard: UserUpdatedEvent[] = [];
    b.on('user_updated', (e) => heard.push(e));
    await Promise.all([a.connect(), b.connect()]);
    await b.subscribe(roomId);
    const expires = new Date(Date.now() + 600_000).toISOString();
    const me: User = await a.rest.updateProfile({ displayName: 'Alice SDK', statusText: 'Shipping', statusExpiresAt: expires });
    assert.deepEqual(me, { id: alice.id, username: alice.username, displayName: 'Alice SDK', statusText: 'Shipping', statusExpiresAt: expires });
    await until(() => heard.length === 1, 'user_updated');
    assert.deepEqual(heard[0], { type: 'user_updated', roomId, user: me });
    assert.deepEqual(await b.rest.getUser(alice.id), me);
    assert.deepEqual(await a.rest.me(), me);
    await assert.rejects(a.rest.updateProfile({ displayName: bob.username }), (error: Error & { code?: string; details?: Record<string, unknown> }) => {
      return error.code === 'conflict' && error.details?.field === 'displayName';
    });
  });

  it('searchUsers pages with next; memberPage pages the members with roles and presence', async () => {
    const b = clients[1] as ParleyClient;
    const ids: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 5; i++) {
      const page = await b.rest.searchUsers('sdkp', { limit: 1, ...(after === undefined ? {} : { after }) });
      ids.push(...page.users.map((u) => u.id));
      if (page.next === null) break;
      after = page.next;
    }
    assert.deepEqual(ids, [alice.id, bob.id]);

    const first = await b.rest.memberPage(roomId, { limit: 1 });
    assert.equal(first.members.length, 1);
    assert.ok(first.next !== null);
    const second = await b.rest.memberPage(roomId, { after: first.next, limit: 1 });
    const members: Member[] = [...first.members, ...second.members];
    assert.deepEqual(
      members.map((m) => [m.user.id, m.role, m.online]),
      [
        [alice.id, 'owner', true],
        [bob.id, 'member', true],
      ],
    );
    assert.equal(second.next, null);
    assert.deepEqual(
      (await b.rest.listMembers(roomId)).map((m) => m.user.id),
      [alice.id, bob.id],
    );
  });
});
