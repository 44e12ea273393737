import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyError } from '../../client/errors.js';
import { type FetchLike, RestClient } from '../../client/rest.js';

interface Call {
  url: string;
  init: RequestInit;
}

function recorder(respond: (call: Call) => Response | Promise<Response>): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    fetch: async (url, init) => {
      const call = { url, init };
      calls.push(call);
      return respond(call);
    },
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

const header = (call: Call | undefined, name: string) => (call?.init.headers as Record<string, string> | undefined)?.[name];

const user = { id: 'u1', username: 'ada', displayName: 'Ada' };
const room = { id: 'r/1', name: 'general', visibility: 'public', topic: '', createdAt: '2024-01-01T00:00:00.000Z', lastSeq: 0 };

describe('REST client', () => {
  it('sends the bearer token when it has one, the cookie (same-origin) when not', async () => {
    const { fetch, calls } = recorder(() => json(200, { user }));
    const rest = new RestClient({ baseUrl: 'http://x.test/', fetch });
    assert.deepEqual(await rest.me(), user);
    assert.equal(calls[0]?.url, 'http://x.test/api/v1/me');
    assert.equal(header(calls[0], 'authorization'), undefined);
    assert.equal(calls[0]?.init.credentials, 'same-origin');
    rest.token = 'tok';
    await rest.me();
    assert.equal(header(calls[1], 'authorization'), 'Bearer tok');
  });

  it('sends the room\'s seen seq with history, thread and member reads; a server that does not know it is asked again without it, and never again', async () => {
    let older = false;
    const { fetch, calls } = recorder(({ url }) => {
      if (older && url.includes('seen=')) return json(400, { error: { code: 'validation_failed', message: 'Invalid query: seen: is not a known field.', details: { issues: [{ path: 'seen', message: 'is not a known field' }] } } });
      if (url.includes('/members')) return json(200, { members: [], next: null });
      if (url.includes('/threads/')) return json(200, { root: {}, replies: [], hasMore: false });
      return json(200, { messages: [], hasMore: false });
    });
    const seen: Record<string, number> = { r1: 42 };
    const rest = new RestClient({ baseUrl: 'http://x.test', token: 't', fetch, seen: (roomId) => seen[roomId] });
    await rest.history('r1', { before: 10 });
    await rest.thread('r1', 4);
    await rest.memberPage('r1', { limit: 5 });
    await rest.history('r2');
    assert.deepEqual(
      calls.map((c) => c.url.replace('http://x.test/api/v1', '')),
      ['/rooms/r1/messages?before=10&seen=42', '/rooms/r1/threads/4?seen=42', '/rooms/r1/members?limit=5&seen=42', '/rooms/r2/messages'],
    );
    // An older server behind the same address: the read answers, and `seen` is not sent again.
    older = true;
    calls.length = 0;
    await rest.history('r1');
    await rest.thread('r1', 4);
    assert.deepEqual(
      calls.map((c) => c.url.replace('http://x.test/api/v1', '')),
      ['/rooms/r1/messages?seen=42', '/rooms/r1/messages', '/rooms/r1/threads/4'],
    );
    // Any other refusal is the caller's to see.
    const strict = new RestClient({ baseUrl: 'http://x.test', token: 't', fetch: async () => json(400, { error: { code: 'validation_failed', message: 'no', details: { issues: [{ path: 'limit', message: 'too big' }] } } }), seen: () => 1 });
    await assert.rejects(strict.history('r1', { limit: 1000 }), (e: unknown) => e instanceof ParleyError && e.code === 'validation_failed');
  });

  it('threads and reactions: paths, encoded emoji, query strings and bodies', async () => {
    const { fetch, calls } = recorder(({ url, init }) => {
      if (url.includes('/threads/') && init.method === 'GET') return json(200, { root: {}, replies: [], hasMore: false });
      if (url.endsWith('/read')) return json(200, { lastReadSeq: 9 });
      if (url.includes('/api/v1/threads')) return json(200, { threads: [], nextCursor: null });
      if (url.endsWith('/messages')) return json(201, { message: { seq: 3, threadRoot: 1 } });
      return new Response(null, { status: 204 });
    });
    const rest = new RestClient({ baseUrl: 'http://x.test', token: 't', fetch });
    await rest.thread('r1', 4, { after: 2, limit: 10 });
    await rest.followThread('r1', 4);
    await rest.unfollowThread('r1', 4);
    assert.equal(await rest.markThreadRead('r1', 4, 9), 9);
    await rest.followedThreads({ cursor: 'abc', limit: 5 });
    await rest.addReaction('r1', 4, '👍');
    await rest.removeReaction('r1', 4, ':+1:');
    await rest.history('r1', { topLevel: true });
    await rest.postMessage('r1', 'hi', undefined, { threadRoot: 1 });
    assert.deepEqual(
      calls.map((c) => `${c.init.method} ${c.url}`),
      [
        'GET http://x.test/api/v1/rooms/r1/threads/4?after=2&limit=10',
        'PUT http://x.test/api/v1/rooms/r1/threads/4/follow',
        'DELETE http://x.test/api/v1/rooms/r1/threads/4/follow',
        'POST http://x.test/api/v1/rooms/r1/threads/4/read',
        'GET http://x.test/api/v1/threads?cursor=abc&limit=5',
        'PUT http://x.test/api/v1/rooms/r1/messages/4/reactions/%F0%9F%91%8D',
        'DELETE http://x.test/api/v1/rooms/r1/messages/4/reactions/%3A%2B1%3A',
        'GET http://x.test/api/v1/rooms/r1/messages?topLevel=true',
        'POST http://x.test/api/v1/rooms/r1/messages',
      ],
    );
    assert.equal(calls[3]?.init.body, JSON.stringify({ seq: 9 }));
    assert.equal(calls[8]?.init.body, JSON.stringify({ body: 'hi', threadRoot: 1 }));
  });

  it('builds paths, query strings and JSON bodies', async () => {
    const { fetch, calls } = recorder(({ url }) => {
      if (url.includes('/messages?')) return json(200, { messages: [], hasMore: false });
      if (url.includes('/search')) return json(200, { hits: [], truncated: true });
      if (url.endsWith('/read') || url.endsWith('/leave')) return new Response(null, { status: 204 });
      return json(200, { room, rooms: [room] });
    });
    const rest = new RestClient({ baseUrl: 'http://x.test', token: 't', fetch });
    await rest.history('r/1', { after: 5, limit: 10 });
    await rest.search({ q: 'hello world', roomId: 'r1' });
    assert.deepEqual(await rest.searchPage({ q: 'a', limit: 5 }), { hits: [], truncated: true, index: { pending: 0 } });
    await rest.publicRooms('gen');
    await rest.markRead('r1', 7);
    await rest.leaveRoom('r1');
    assert.deepEqual(
      calls.map((c) => `${c.init.method} ${c.url}`),
      [
        'GET http://x.test/api/v1/rooms/r%2F1/messages?after=5&limit=10',
        'GET http://x.test/api/v1/search?q=hello+world&roomId=r1',
        'GET http://x.test/api/v1/search?q=a&limit=5',
        'GET http://x.test/api/v1/rooms/public?q=gen',
        'POST http://x.test/api/v1/rooms/r1/read',
        'POST http://x.test/api/v1/rooms/r1/leave',
      ],
    );
    assert.equal(calls[4]?.init.body, '{"seq":7}');
    assert.equal(header(calls[4], 'content-type'), 'application/json');
    assert.equal(calls[5]?.init.body, undefined);
    assert.equal(header(calls[5], 'content-type'), 'application/json', 'a body-less POST says JSON too (the server requires it with the cookie)');
    assert.equal(header(calls[0], 'content-type'), undefined, 'a GET has no body to describe');
  });

  it('turns an error body into a ParleyError with code, status, details', async () => {
    const { fetch } = recorder(() => json(400, { error: { code: 'validation_failed', message: 'body: too long', details: { field: 'body' } } }));
    const rest = new RestClient({ baseUrl: 'http://x.test', fetch });
    await assert.rejects(rest.postMessage('r1', 'x'), (e: unknown) => {
      assert.ok(e instanceof ParleyError);
      assert.equal(e.code, 'validation_failed');
      assert.equal(e.status, 400);
      assert.equal(e.message, 'body: too long');
      assert.deepEqual(e.details, { field: 'body' });
      assert.equal(e.source, 'http');
      return true;
    });
  });

  it('reads the wait of rate_limited from details.retryAfterMs, else Retry-After', async () => {
    let withDetails = true;
    const { fetch } = recorder(() =>
      json(429, { error: { code: 'rate_limited', message: 'slow down', ...(withDetails ? { details: { retryAfterMs: 250 } } : {}) } }, { 'retry-after': '2' }),
    );
    const rest = new RestClient({ baseUrl: 'http://x.test', fetch });
    await assert.rejects(rest.me(), (e: unknown) => e instanceof ParleyError && e.code === 'rate_limited' && e.retryAfterMs === 250);
    withDetails = false;
    await assert.rejects(rest.me(), (e: unknown) => e instanceof ParleyError && e.retryAfterMs === 2000);
  });

  it('maps an error without the error shape by its status', async () => {
    const { fetch } = recorder(() => new Response('<html>bad gateway</html>', { status: 502 }));
    const rest = new RestClient({ baseUrl: 'http://x.test', fetch });
    await assert.rejects(rest.me(), (e: unknown) => e instanceof ParleyError && e.code === 'unavailable' && e.status === 502);
  });

  it('times out with unavailable, aborting the request', async () => {
    let aborted = false;
    const fetch: FetchLike = (_url, init) =>
      new Promise((_resolve, reject) => {
        init.signal?.addEventListener('abort', () => {
          aborted = true;
          reject(new DOMException('aborted', 'AbortError'));
        });
      });
    const rest = new RestClient({ baseUrl: 'http://x.test', fetch, requestTimeoutMs: 30 });
    await assert.rejects(rest.me(), (e: unknown) => e instanceof ParleyError && e.code === 'unavailable' && /30 ms/.test(e.message));
    assert.equal(aborted, true);
  });

  it('reports an unreachable server as unavailable', async () => {
    const rest = new RestClient({ baseUrl: 'http://x.test', fetch: () => Promise.reject(new TypeError('fetch failed')) });
    await assert.rejects(rest.listRooms(), (e: unknown) => e instanceof ParleyError && e.code === 'unavailable' && e.cause instanceof TypeError);
  });

  it('covers every call of the protocol', async () => {
    const { fetch, calls } = recorder(({ init }) =>
      init.method === 'DELETE' ? new Response(null, { status: 204 }) : json(200, { user, token: 't', room, rooms: [], members: [], message: {}, messages: [], hasMore: false, hits: [] }),
    );
    const rest = new RestClient({ baseUrl: 'http://x.test', fetch });
    await rest.register({ username: 'ada', password: 'p'.repeat(8) });
    await rest.login({ username: 'ada', password: 'p'.repeat(8) });
    await rest.logout();
    await rest.me();
    await rest.createRoom({ name: 'g', visibility: 'public' });
    await rest.listRooms();
    await rest.publicRooms();
    await rest.getRoom('r1');
    await rest.joinRoom('r1');
    await rest.leaveRoom('r1');
    await rest.addMember('r1', 'bob');
    await rest.listMembers('r1');
    await rest.openDm('bob');
    await rest.history('r1', { before: 10 });
    await rest.postMessage('r1', 'hi', 'cm1');
    await rest.editMessage('r1', 3, 'hey');
    await rest.deleteMessage('r1', 3);
    await rest.markRead('r1', 3);
    await rest.search({ q: 'hi' });
    assert.deepEqual(
      calls.map((c) => `${c.init.method} ${c.url.replace('http://x.test/api/v1', '')}`),
      [
        'POST /auth/register',
        'POST /auth/login',
        'POST /auth/logout',
        'GET /me',
        'POST /rooms',
        'GET /rooms',
        'GET /rooms/public',
        'GET /rooms/r1',
        'POST /rooms/r1/join',
        'POST /rooms/r1/leave',
        'POST /rooms/r1/members',
        'GET /rooms/r1/members',
        'POST /dms',
        'GET /rooms/r1/messages?before=10',
        'POST /rooms/r1/messages',
        'PATCH /rooms/r1/messages/3',
        'DELETE /rooms/r1/messages/3',
        'POST /rooms/r1/read',
        'GET /search?q=hi',
      ],
    );
    assert.equal(calls[14]?.init.body, '{"body":"hi","clientMsgId":"cm1"}');
  });

  it('covers the people calls, with their queries and bodies', async () => {
    const { fetch, calls } = recorder(() => json(200, { user, users: [user], members: [], next: null }));
    const rest = new RestClient({ baseUrl: 'http://x.test', fetch });
    assert.deepEqual(await rest.updateProfile({ statusText: null, displayName: 'Ada L.' }), user);
    const found = await rest.searchUsers('@ad a', { after: 'c/1', limit: 5 });
    assert.deepEqual([found.users, found.next], [[user], null]);
    await rest.searchUsers('ada');
    assert.deepEqual(await rest.getUser('u/1'), user);
    const page = await rest.memberPage('r1', { after: 'k', limit: 2 });
    assert.deepEqual([page.members, page.next], [[], null]);
    await rest.memberPage('r1');
    assert.deepEqual(
      calls.map((c) => `${c.init.method} ${c.url.replace('http://x.test/api/v1', '')}`),
      ['PATCH /me', 'GET /users?q=%40ad+a&after=c%2F1&limit=5', 'GET /users?q=ada', 'GET /users/u%2F1', 'GET /rooms/r1/members?after=k&limit=2', 'GET /rooms/r1/members'],
    );
    assert.equal(calls[0]?.init.body, '{"statusText":null,"displayName":"Ada L."}');
  });
});
