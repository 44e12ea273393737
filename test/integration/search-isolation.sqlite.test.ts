/**
 * An attacker's search over a big room must not stall a SQLite node. Found by an outside attack
 * run: a user joined a public room of 25,000 ordinary messages and asked `GET /search?q=a`;
 * every other user's REST call, even `GET /me`, answered 503 after 30 s for about 86 s, and at
 * 150,000 messages the store never came back. History is written straight into the store in
 * big batches (as it accumulates over months), then the server is used as clients use it.
 *
 * The outsider is in more rooms than a search is narrowed to (SCOPED_ROOMS_MAX), so their
 * search walks the newest matches of every room, the big room's among them: the expensive
 * search. A neighbour in the quiet room alone is searched in that room only.
 */
import { indexAll } from '../support/search-index.js';
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SCOPED_ROOMS_MAX } from '../../src/adapters/sql/search-scope.js';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { newId } from '../../src/domain/ids.js';
import type { AppendRequest, Store } from '../../src/ports.js';
import type { Message, SearchHit } from '../../src/protocol/wire.js';
import { type ApiResponse, api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const WORDS = 'about after again all also and any are around ask away back because been before being best big both call come could day did down each even every few find first from give good great have help here high home house just keep kind know large last leave life like line little long look made make many more most move much must name need never next number only other over part people place point read right room same seem should show small some sound still study such take tell than that their them then there these thing think this three through time turn under very want water well went were what when where which while will with word work world would write year your'.split(' ');

/** The REST answer of GET /search. */
interface SearchBody {
  hits: SearchHit[];
  truncated: boolean;
}

/** An ordinary chat line of 6–12 words; the first starts with "a", so every line matches q=a. */
function line(i: number): string {
  let x = (i * 2654435761) >>> 0;
  const words = [WORDS[i % 8] as string];
  for (let k = 0, n = 5 + (i % 7); k < n; k++) {
    x = (x * 1103515245 + 12345) >>> 0;
    words.push(WORDS[x % WORDS.length] as string);
  }
  return words.join(' ');
}

describe('regression: one search over a big public room stalled every other call of a SQLite node', () => {
  let server: TestServer;
  let seeder: Store;
  let owner: TestUser;
  let attacker: TestUser;
  let outsider: TestUser;
  let neighbour: TestUser;
  let bystanders: TestUser[];
  let big: string;
  let quiet: string;
  let bystanderRoom: string;
  let seeded = 0;

  before(async () => {
    server = await startTestServer({ AUTH_RATE_PER_MIN: 1000, SEND_RATE_PER_SEC: 1000, SEND_BURST: 1000 });
    owner = await registerUser(server.url, 'owner');
    attacker = await registerUser(server.url, 'attacker');
    outsider = await registerUser(server.url, 'outsider');
    neighbour = await registerUser(server.url, 'neighbour');
    bystanders = [await registerUser(server.url, 'by'), await registerUser(server.url, 'by'), await registerUser(server.url, 'by')];
    big = await createRoom(server.url, owner, 'public', 'big');
    for (const u of [attacker, ...bystanders]) assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${big}/join`, { token: u.token })).status, 200);
    quiet = await createRoom(server.url, outsider, 'private', 'quiet');
    assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${quiet}/members`, { token: outsider.token, body: { username: neighbour.username } })).status, 200);
    bystanderRoom = await createRoom(server.url, bystanders[0] as TestUser, 'private', 'chatter');
    for (const u of bystanders.slice(1)) {
      assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${bystanderRoom}/members`, { token: bystanders[0]?.token, body: { username: u.username } })).status, 200);
    }
    // An old message of the quiet room, before all the history of the big one.
    assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${quiet}/messages`, { token: outsider.token, body: { body: 'an answer from long ago' } })).status, 201);
    // A second connection to the server's own file, as another process would have.
    seeder = openSqliteStore(path.join(server.dataDir, 'parley.db'));
    const outsiderId = (await api<{ user: { id: string } }>(server.url, 'GET', '/api/v1/me', { token: outsider.token })).body.user.id;
    for (let i = 0; i < SCOPED_ROOMS_MAX; i++) await seeder.createRoom({ id: newId(), name: `elsewhere ${i}`, visibility: 'private', topic: '', createdAt: Date.now() }, outsiderId);
  });

  after(async () => {
    await seeder.close();
    await server.stop();
  });

  /** Appends the big room's history up to `total` messages, 5,000 per transaction. */
  async function seedTo(total: number): Promise<void> {
    while (seeded < total) {
      const n = Math.min(5_000, total - seeded);
      const batch: AppendRequest[] = Array.from({ length: n }, (_, k) => ({
        kind: 'message',
        roomId: big,
        userId: owner.id,
        id: newId(),
        body: line(seeded + k),
        clientMsgId: null,
        at: Date.now(),
      }));
      const outcomes = await seeder.append(batch);
      assert.ok(outcomes.every((o) => o.status === 'appended'));
      seeded += n;
    }
    // Indexed by the indexer's own code, as the process that committed would have.
    await indexAll(seeder);
  }

  /**
   * Runs the searches while every bystander keeps calling GET /me, reading the big room's
   * history and sending over its WebSocket; returns the searches' answers and every status
   * the bystanders got.
   */
  async function searchUnderTraffic(searches: Array<{ user: TestUser; route: string }>) {
    const sockets = await Promise.all(bystanders.map((u) => WsTestClient.connect(server.wsUrl, { token: u.token })));
    const statuses: Array<{ call: string; status: number | string }> = [];
    let searching = true;
    const rounds = bystanders.map(async (u, i) => {
      const ws = sockets[i] as WsTestClient;
      let done = 0;
      // At least one full round each, and rounds for as long as the searches run.
      while (searching || done === 0) {
        statuses.push({ call: 'GET /me', status: (await api(server.url, 'GET', '/api/v1/me', { token: u.token })).status });
        statuses.push({ call: 'GET history', status: (await api(server.url, 'GET', `/api/v1/rooms/${big}/messages?limit=50`, { token: u.token })).status });
        const reply = await ws.request({ type: 'send', roomId: bystanderRoom, body: `still here ${i} ${done}` }, 15_000);
        statuses.push({ call: 'ws send', status: reply.ok === true ? 'ok' : JSON.stringify(reply.error) });
        done += 1;
      }
      return done;
    });
    try {
      const answers = await Promise.all(searches.map((s) => api<SearchBody>(server.url, 'GET', s.route, { token: s.user.token })));
      searching = false;
      const done = await Promise.all(rounds);
      return { answers, statuses, done };
    } finally {
      searching = false;
      await Promise.allSettled(rounds);
      for (const ws of sockets) ws.close();
    }
  }

  for (const size of [25_000, 150_000]) {
    it(`${size.toLocaleString('en')} messages: the searches answer, bounded and correct, and nobody else waits`, async () => {
      await seedTo(size);
      // The quiet room's newest message, newer than the whole history of the big room.
      const recent = await api(server.url, 'POST', `/api/v1/rooms/${quiet}/messages`, { token: outsider.token, body: { body: `another answer at ${size}` } });
      assert.equal(recent.status, 201);
      const head = await api<{ messages: Message[] }>(server.url, 'GET', `/api/v1/rooms/${big}/messages?limit=1`, { token: attacker.token });
      const newest = head.body.messages[0] as Message;

      const { answers, statuses, done } = await searchUnderTraffic([
        { user: attacker, route: '/api/v1/search?q=a' },
        { user: outsider, route: '/api/v1/search?q=a' },
        { user: attacker, route: '/api/v1/search?q=a&limit=100' },
        { user: outsider, route: `/api/v1/search?q=a&roomId=${quiet}` },
      ]);

      // Every bystander call succeeded while the searches ran.
      assert.deepEqual(
        statuses.filter((s) => !(s.status === 200 || s.status === 'ok')),
        [],
      );
      assert.ok(done.every((n) => n >= 1));

      const [member, stranger, memberPage, quietRoom] = answers as [ApiResponse<SearchBody>, ApiResponse<SearchBody>, ApiResponse<SearchBody>, ApiResponse<SearchBody>];
      // The member of the big room: its newest messages, newest first, a full page.
      assert.equal(member.status, 200, JSON.stringify(member.body));
      assert.equal(member.body.truncated, false);
      assert.equal(member.body.hits.length, 20);
      assert.deepEqual(member.body.hits[0]?.message, newest);
      const seqs = member.body.hits.map((h) => h.message.seq);
      assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => newest.seq - i));
      assert.ok(member.body.hits.every((h) => h.message.roomId === big && h.highlight.includes('<mark>')));
      assert.equal(memberPage.status, 200);
      assert.equal(memberPage.body.hits.length, 100);
      assert.deepEqual(memberPage.body.hits.slice(0, 20), member.body.hits);

      // Not a member of the big room: its matches are walked (every one of them is newer than
      // the quiet room's first message) until the cap; what was found so far is the answer,
      // marked truncated, and nothing of a room the caller is not in.
      assert.equal(stranger.status, 200, JSON.stringify(stranger.body));
      assert.equal(stranger.body.truncated, true);
      assert.deepEqual(
        stranger.body.hits.map((h) => [h.message.roomId, h.message.body]),
        [[quiet, `another answer at ${size}`]],
      );

      // Narrowed to the quiet room: FTS walks only that room, so the answer is complete.
      assert.equal(quietRoom.status, 200, JSON.stringify(quietRoom.body));
      assert.equal(quietRoom.body.truncated, false);
      assert.ok(quietRoom.body.hits.every((h) => h.message.roomId === quiet));
      assert.deepEqual(
        quietRoom.body.hits.map((h) => h.message.body).slice(-1),
        ['an answer from long ago'],
      );
      assert.equal(quietRoom.body.hits[0]?.message.body, `another answer at ${size}`);

      // In the quiet room alone: searched in it, whatever the big room holds; the answer is
      // the quiet room's, complete.
      const scoped = await api<SearchBody>(server.url, 'GET', '/api/v1/search?q=a', { token: neighbour.token });
      assert.equal(scoped.status, 200, JSON.stringify(scoped.body));
      assert.equal(scoped.body.truncated, false);
      assert.deepEqual(
        scoped.body.hits.map((h) => h.message.body),
        quietRoom.body.hits.map((h) => h.message.body),
      );
    });
  }

  it('past SEARCH_MAX_CONCURRENT, a search is refused at once with 503 and Retry-After', async () => {
    // A second node on the same file, allowed one search at a time, each walking every match
    // of the big room (about 150,000: far longer than the two requests take to arrive).
    const strict = await startTestServer({ DATA_DIR: server.dataDir, SEARCH_MAX_CONCURRENT: 1, SEARCH_MAX_CANDIDATES: 10_000_000, SEARCH_TIMEOUT_MS: 60_000 });
    try {
      const [first, second] = await Promise.all([
        api<SearchBody>(strict.url, 'GET', '/api/v1/search?q=a', { token: outsider.token }),
        api<SearchBody>(strict.url, 'GET', '/api/v1/search?q=a', { token: outsider.token }),
      ]);
      assert.deepEqual([first.status, second.status].sort(), [200, 503]);
      const [answered, refused] = first.status === 200 ? [first, second] : [second, first];
      assert.equal((refused.body as unknown as { error: { code: string } }).error.code, 'unavailable');
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.equal(answered.body.truncated, false);
      assert.ok(answered.body.hits.every((h) => h.message.roomId === quiet));
      // Once it is done, the next search runs.
      assert.equal((await api(strict.url, 'GET', `/api/v1/search?q=a&roomId=${quiet}`, { token: outsider.token })).status, 200);
    } finally {
      await strict.stop();
    }
  });
});
