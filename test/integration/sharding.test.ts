/**
 * Parley with its rooms sharded over three PostgreSQL databases (DATABASE_SHARD_URLS): the
 * primary's, another on the same server, and one on a second server the test starts.
 *
 * What must hold:
 * - rooms land on both shards; a user's room list (with unread counts), search, followed threads
 *   and notifications span them as one database would;
 * - a shard's server stopped: its rooms answer 503, rooms on the other shard go on; it comes back
 *   and every acknowledged message is there, once;
 * - `parley shards move` moves a room while a WebSocket subscriber reads it and a client sends to
 *   it: the subscriber sees every event once, gapless, in order; every acknowledged send is in
 *   the history at its seq; the room is on its new shard.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type PostgresCluster, requirePostgresBinaries, startPostgresCluster } from '../support/pg-cluster.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { api, createRoom, registerUser, searchFresh, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const POLL_MS = 50;

if ((await requirePostgres('room sharding')) && requirePostgresBinaries('room sharding')) {
  describe('Parley with rooms sharded over two PostgreSQL servers', () => {
    let far: PostgresCluster;
    let databases: TestDatabase[];
    let server: TestServer;
    let env: Record<string, string>;

    before(async () => {
      far = await startPostgresCluster();
      databases = [await createTestDatabase(), await createTestDatabase(), await createTestDatabase(far.url)];
      const [primary, near, remote] = databases as [TestDatabase, TestDatabase, TestDatabase];
      const shardUrls = [`near=${near.url}`, `far=${remote.url}`];
      env = {
        DATABASE_URL: primary.url,
        DATABASE_SHARD_URLS: shardUrls.join(','),
        DATABASE_SHARD_MOVE_POLL_MS: String(POLL_MS),
        DATABASE_STATEMENT_TIMEOUT_MS: '2000',
      };
      server = await startTestServer({
        DATABASE_URL: primary.url,
        DATABASE_SHARD_URLS: [
          { name: 'near', url: near.url },
          { name: 'far', url: remote.url },
        ],
        DATABASE_SHARD_MOVE_POLL_MS: POLL_MS,
        DATABASE_STATEMENT_TIMEOUT_MS: 2_000,
        SEND_RATE_PER_SEC: 10_000,
        SEND_BURST: 10_000,
      });
    });

    after(async () => {
      await server?.stop();
      await Promise.all((databases ?? []).map((d) => d.drop().catch(() => undefined)));
      await far?.stop();
    });

    /** `parley shards …` as an operator runs it, with the nodes' configuration. */
    const shards = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'shards', ...args], { env: { ...process.env, ...env, LOG_LEVEL: 'error' } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });

    /** The shard each room is on, from the primary's directory. */
    const shardsOf = async (roomIds: string[]): Promise<Map<string, string>> => {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: (databases[0] as TestDatabase).url });
      await client.connect();
      try {
        const { rows } = await client.query<{ room_id: string; shard: string }>('SELECT room_id, shard FROM room_directory WHERE room_id = ANY($1)', [roomIds]);
        return new Map(rows.map((r) => [r.room_id, r.shard]));
      } finally {
        await client.end();
      }
    };
    const send = (user: TestUser, roomId: string, body: string, clientMsgId?: string) =>
      api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: user.token, body: clientMsgId === undefined ? { body } : { body, clientMsgId } });

    let alice: TestUser;
    let bob: TestUser;
    let rooms: string[];
    let placed: Map<string, string>;

    it('spreads rooms over both shards; room lists, unread counts, search, threads and notifications span them', async () => {
      alice = await registerUser(server.url, 'sha');
      bob = await registerUser(server.url, 'shb');
      rooms = [];
      for (let i = 0; i < 10; i++) rooms.push(await createRoom(server.url, alice, 'public', `sharded ${i}`));
      placed = await shardsOf(rooms);
      assert.deepEqual(new Set(placed.values()), new Set(['near', 'far']), 'ten rooms land on both shards');
      for (const [i, roomId] of rooms.entries()) {
        assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token })).status, 200);
        for (let k = 0; k <= i % 3; k++) assert.equal((await send(alice, roomId, `kestrel ${i}.${k} @${bob.username}`)).status, 201);
      }
      const listed = await api(server.url, 'GET', '/api/v1/rooms', { token: bob.token });
      assert.equal(listed.status, 200);
      const unread = new Map((listed.body.rooms as Array<{ id: string; unread: number }>).map((r) => [r.id, r.unread]));
      for (const [i, roomId] of rooms.entries()) assert.equal(unread.get(roomId), (i % 3) + 1, `unread of room ${i}`);
      // By latest activity, newest first, across both shards.
      assert.equal((listed.body.rooms as Array<{ id: string }>)[0]?.id, rooms.at(-1));

      const found = await searchFresh(server.url, '/api/v1/search?q=kestrel&limit=50', bob.token);
      assert.equal(found.status, 200);
      const hitRooms = new Set((found.body.hits as Array<{ message: { roomId: string } }>).map((h) => h.message.roomId));
      assert.equal(hitRooms.size, 10, 'hits from every room, on both shards');

      const notes = await api(server.url, 'GET', '/api/v1/notifications?limit=50', { token: bob.token });
      assert.equal(notes.status, 200);
      assert.ok((notes.body.notifications as unknown[]).length >= 10, `a mention notification from each room (${(notes.body.notifications as unknown[]).length})`);

      const publicRooms = await api(server.url, 'GET', '/api/v1/rooms/public?q=sharded&limit=50', { token: bob.token });
      assert.equal((publicRooms.body.rooms as unknown[]).length, 10);
    });

    it("administration spans the shards: every room listed; a deleted user's name is erased on every shard, and free to take again", async () => {
      await server.parley.services.store.setServerRole(alice.id, 'admin', Date.now());
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const page: { status: number; body: Record<string, unknown> } = await api(server.url, 'GET', `/api/v1/admin/rooms?q=sharded&limit=3${after === null ? '' : `&after=${encodeURIComponent(after)}`}`, { token: alice.token });
        assert.equal(page.status, 200);
        seen.push(...(page.body.rooms as Array<{ id: string }>).map((r) => r.id));
        after = page.body.next as string | null;
      } while (after !== null);
      assert.deepEqual([...seen].sort(), [...rooms].sort(), 'each room of both shards once');

      const carol = await registerUser(server.url, 'shc');
      const hers = rooms.slice(0, 4);
      for (const roomId of hers) {
        assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: carol.token })).status, 200);
        assert.equal((await send(carol, roomId, `carol was here in ${roomId}`)).status, 201);
      }
      assert.equal((await api(server.url, 'DELETE', `/api/v1/admin/users/${carol.id}`, { token: alice.token })).status, 204);
      for (const roomId of hers) {
        const history = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages`, { token: alice.token });
        const mine = (history.body.messages as Array<{ body: string; author: { displayName: string; username: string } }>).find((m) => m.body === `carol was here in ${roomId}`);
        assert.equal(mine?.author.displayName, 'Deleted user', `erased on the shard of ${roomId}`);
      }
      const taker = await api(server.url, 'POST', '/api/v1/auth/register', { body: { username: carol.username, password: 'correct horse battery' } });
      assert.equal(taker.status, 201);
      for (const roomId of hers) {
        assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: taker.body.token })).status, 200, 'the name is free on the shard too');
        assert.equal((await send({ id: taker.body.user.id, username: carol.username, token: taker.body.token }, roomId, 'a new carol')).status, 201);
      }
    });

    it('a shard whose server stops fails only its own rooms (503), and has every acknowledged message when it is back', async () => {
      const nearRoom = rooms.find((r) => placed.get(r) === 'near') as string;
      const farRoom = rooms.find((r) => placed.get(r) === 'far') as string;
      await far.halt();
      try {
        assert.equal((await send(alice, nearRoom, 'while far is down')).status, 201);
        assert.equal((await send(alice, farRoom, 'lost?')).status, 503);
        assert.equal((await api(server.url, 'GET', `/api/v1/rooms/${nearRoom}/messages?limit=5`, { token: bob.token })).status, 200);
      } finally {
        await far.start();
      }
      let status = 0;
      for (let i = 0; i < 100 && status !== 201; i++) {
        status = (await send(alice, farRoom, 'after the restart')).status;
        if (status !== 201) await sleep(100);
      }
      assert.equal(status, 201);
      const history = await api(server.url, 'GET', `/api/v1/rooms/${farRoom}/messages?limit=100`, { token: bob.token });
      const bodies = (history.body.messages as Array<{ body: string }>).map((m) => m.body);
      assert.equal(bodies.filter((b) => b === 'after the restart').length, 1);
      assert.equal(bodies.includes('lost?'), false, 'a send answered 503 was not written');
    });

    it('parley shards move moves a room while a subscriber reads it and a client sends to it: gapless, once, in order', async () => {
      const roomId = rooms[0] as string;
      const from = placed.get(roomId) as string;
      const to = from === 'near' ? 'far' : 'near';
      const ws = await WsTestClient.connect(server.wsUrl, { token: bob.token });
      const sub = await ws.request({ type: 'subscribe', roomId });
      assert.equal(sub.ok, true);
      const startSeq = sub.lastSeq as number;

      let stop = false;
      const acked = new Map<string, number>();
      let refused = 0;
      const sending = (async () => {
        for (let i = 0; !stop; i++) {
          const id = `mv-${i}`;
          for (;;) {
            const res = await send(alice, roomId, id, id);
            if (res.status === 201) {
              acked.set(id, (res.body.message as { seq: number }).seq);
              break;
            }
            assert.equal(res.status, 503, JSON.stringify(res.body));
            refused++;
            await sleep(20);
          }
        }
      })();
      await sleep(300);
      const moved = await shards(['move', roomId, to]);
      await sleep(300);
      stop = true;
      await sending;
      assert.equal(moved.code, 0, moved.stderr);
      // The report is the JSON line naming the room (the tool may log other lines around it).
      const parsed = moved.stdout.trim().split('\n').flatMap((line) => {
        try {
          return [JSON.parse(line) as { roomId?: string; from: string; to: string; heldMs: number }];
        } catch {
          return [];
        }
      });
      const report = parsed.find((r) => r.roomId === roomId);
      assert.ok(report !== undefined, `a report in: ${moved.stdout} ${moved.stderr}`);
      assert.equal(report.from, from);
      assert.equal(report.to, to);
      assert.equal((await shardsOf([roomId])).get(roomId), to);

      const last = Math.max(...acked.values());
      await ws.waitFor((f) => f.type === 'event' && f.seq === last, 10_000);
      const seqs = ws.frames.filter((f) => f.type === 'event' && f.roomId === roomId).map((f) => f.seq as number);
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => startSeq + 1 + i),
        'the subscriber sees every event once, in order, with no gap',
      );
      const bySeq = new Map<number, string>();
      for (let after = startSeq; ; ) {
        const page = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages?after=${after}&limit=100`, { token: bob.token });
        const messages = page.body.messages as Array<{ seq: number; body: string }>;
        for (const m of messages) bySeq.set(m.seq, m.body);
        if (messages.length === 0) break;
        after = (messages.at(-1) as { seq: number }).seq;
      }
      for (const [id, seq] of acked) assert.equal(bySeq.get(seq), id);
      assert.ok(acked.size >= 5, `sends during the move (${acked.size})`);
      const status = await shards(['status']);
      assert.equal(status.code, 0, status.stderr);
      const lines = status.stdout.trim().split('\n').map((l) => JSON.parse(l) as { shard?: string; directoryRooms?: number; moving?: string });
      const counts = new Map(lines.filter((l) => l.shard !== undefined).map((l) => [l.shard, l.directoryRooms]));
      assert.equal((counts.get('near') ?? 0) + (counts.get('far') ?? 0), rooms.length, 'every room of the test in the directory');
      assert.equal(lines.filter((l) => l.moving !== undefined).length, 0, 'no move under way');
      process.stderr.write(`move over the CLI: ${acked.size} sends, ${refused} answered 503, room held ${report.heldMs} ms\n`);
      ws.ws.close();
    });
  });
}
