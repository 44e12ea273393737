/**
 * Moving a room between shards while it is in use (shard-move.ts): real databases on two
 * PostgreSQL servers, two store instances (two processes' worth) sending to the room during the
 * move, and what a move must keep: every acknowledged message, once, at its seq, gapless.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { type MoveShard, moveRoom } from '../../src/adapters/sql/shard-move.js';
import { ROUTED_METHODS } from '../../src/adapters/sql/sharding.js';
import { SqlStore } from '../../src/adapters/sql/sql-store.js';
import { newId } from '../../src/domain/ids.js';
import { GroupCommitter } from '../../src/domain/group-commit.js';
import { AppError } from '../../src/errors.js';
import type { UserRecord } from '../../src/domain/types.js';
import type { AppendOutcome, AppendRequest, Store } from '../../src/ports.js';
import { type PostgresCluster, requirePostgresBinaries, startPostgresCluster } from '../support/pg-cluster.js';
import { requirePostgres } from '../support/postgres.js';
import { shardedStore } from '../support/store-fixtures.js';

describe('sharding routes every Store method', () => {
  it('each method of the SQL store is routed by room, kept on the primary, or answered by the shards together', () => {
    const methods = Object.getOwnPropertyNames(SqlStore.prototype).filter((m) => m !== 'constructor' && typeof Object.getOwnPropertyDescriptor(SqlStore.prototype, m)?.value === 'function');
    const routed = new Set([...ROUTED_METHODS.room, ...ROUTED_METHODS.primary, ...ROUTED_METHODS.special]);
    assert.deepEqual(
      methods.filter((m) => !routed.has(m)),
      [],
    );
  });
});

if ((await requirePostgres('Room moves between shards')) && requirePostgresBinaries('Room moves between shards')) {
  describe('moving a room between shards', () => {
    let server: PostgresCluster;
    let fx: Awaited<ReturnType<typeof shardedStore>>;
    let store: Store;
    let peer: Store;
    const POLL_MS = 50;

    before(async () => {
      server = await startPostgresCluster();
      fx = await shardedStore(async () => server, { movePollMs: POLL_MS, moveWaitMs: 20_000 });
      store = fx.store;
      await store.migrate();
      peer = await (fx.another as () => Promise<Store>)();
    });
    after(async () => {
      await peer?.close();
      await fx?.cleanup();
      await server?.stop();
    });

    const moveShards = (): Map<string, MoveShard> => new Map([...fx.sharded.shards].map(([name, s]) => [name, { name, db: s.sql.db, sql: s.sql }]));
    const move = (roomId: string, to: string) => {
      const shards = moveShards();
      return moveRoom({ primary: shards.get('primary') as MoveShard, shards, graceMs: 5 * POLL_MS }, roomId, to);
    };
    const other = (name: string) => (name === 'near' ? 'far' : 'near');
    const rowsOn = async (shard: string, table: string, roomId: string) =>
      Number((await sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.table(table)} WHERE room_id = ${roomId}`.execute(moveShards().get(shard)?.db as never)).rows[0]?.n);

    let counter = 0;
    async function user(prefix = 'mv'): Promise<UserRecord> {
      counter += 1;
      const u: UserRecord = { id: newId(), username: `${prefix}${counter}_${newId().slice(0, 6)}`.toLowerCase(), displayName: `${prefix} ${counter}`, passwordHash: 'x', createdAt: Date.now() };
      await store.createUser(u);
      return u;
    }

    it('moves a room while two processes send to it: every acknowledged message on the new shard once, at its seq, gapless; nothing left on the old', async () => {
      const owner = await user();
      const guest = await user();
      const room = (await store.createRoom({ id: newId(), name: 'moving', visibility: 'public', topic: '', createdAt: Date.now() }, owner.id)).room;
      await store.append([{ kind: 'member_joined', roomId: room.id, userId: guest.id, role: 'member', addedBy: null, at: Date.now() }]);
      const from = await fx.sharded.shardOf(room.id);
      const to = other(from);

      const acked = new Map<string, number>();
      let unavailable = 0;
      let stop = false;
      const sender = async (via: Store, author: UserRecord, tag: string) => {
        for (let i = 0; !stop; i += 1) {
          const clientMsgId = `${tag}-${i}`;
          for (;;) {
            try {
              const [outcome] = (await via.append([{ kind: 'message', roomId: room.id, userId: author.id, id: newId(), body: clientMsgId, clientMsgId, at: Date.now() }])) as AppendOutcome[];
              assert.ok(outcome?.status === 'appended' || outcome?.status === 'duplicate', JSON.stringify(outcome));
              acked.set(clientMsgId, outcome.status === 'appended' ? outcome.event.seq : (outcome as { message: { seq: number } }).message.seq);
              break;
            } catch (error) {
              // A send held past the wait is answered 503: the client sends it again.
              if (!(error instanceof AppError && error.code === 'unavailable')) throw error;
              unavailable += 1;
            }
          }
          if (i % 5 === 0) await via.advanceReadMarker(room.id, author.id, i);
        }
      };
      const sending = [sender(store, owner, 'a'), sender(peer, guest, 'b')];
      // Sends before and after the move counted, not timed: on a machine busy with other tests a
      // fixed time let too few through to mean anything. A sender that fails ends the wait.
      const acks = async (n: number) => {
        const deadline = Date.now() + 60_000;
        while (acked.size < n) {
          if (Date.now() > deadline) throw new Error(`fewer than ${n} sends acknowledged within 60 s (${acked.size})`);
          await Promise.race([...sending, sleep(20)]);
        }
      };
      await acks(12);
      const report = await move(room.id, to);
      await acks(acked.size + 12);
      stop = true;
      await Promise.all(sending);

      assert.equal(report.from, from);
      assert.equal(report.to, to);
      assert.equal(await fx.sharded.shardOf(room.id), to);
      const events = await store.readEvents(room.id, 0, 100_000);
      assert.deepEqual(
        events.map((e) => e.seq),
        events.map((_, i) => i + 1),
        'seqs are gapless from 1',
      );
      const bySeq = new Map(events.filter((e) => e.kind === 'message').map((e) => [e.seq, (e as { message?: { clientMsgId: string | null } }).message?.clientMsgId]));
      assert.ok(acked.size > 20, `enough sends during the move (${acked.size})`);
      for (const [clientMsgId, seq] of acked) assert.equal(bySeq.get(seq), clientMsgId, `${clientMsgId} at ${seq}`);
      assert.equal(new Set(bySeq.values()).size, bySeq.size, 'no message twice');
      assert.equal(await rowsOn(from, 'events', room.id), 0);
      assert.equal(await rowsOn(from, 'messages', room.id), 0);
      assert.equal(await rowsOn(to, 'events', room.id), events.length);
      // Read markers written during the move are where the room is.
      assert.ok(((await store.findMember(room.id, owner.id))?.lastReadSeq ?? -1) >= 0);
      // The other process's next calls go to the new shard as well.
      const [late] = await peer.append([{ kind: 'message', roomId: room.id, userId: guest.id, id: newId(), body: 'after', clientMsgId: 'late', at: Date.now() }]);
      assert.equal(late?.status, 'appended');
      assert.equal((late as { event: { seq: number } }).event.seq, events.length + 1);
      process.stderr.write(`moved under ${acked.size} sends: held ${report.heldMs} ms, locked ${report.lockedMs} ms, ${unavailable} sends answered unavailable\n`);
    });

    it('a room and a DM made before sharding move from the primary to a shard: history, membership and the pair\'s DM follow', async () => {
      const a = await user();
      const b = await user();
      const primary = fx.sharded.shards.get('primary')?.store as Store;
      const legacy = (await primary.createRoom({ id: newId(), name: 'old room', visibility: 'private', topic: 't', createdAt: Date.now() }, a.id)).room;
      await primary.append([{ kind: 'message', roomId: legacy.id, userId: a.id, id: newId(), body: 'from before', clientMsgId: null, at: Date.now() }]);
      const dm = await primary.getOrCreateDm({ id: newId(), name: '', topic: '', createdAt: Date.now() }, a.id, b.id);
      assert.equal(await fx.sharded.shardOf(legacy.id), 'primary');

      await move(legacy.id, 'far');
      await move(dm.room.id, 'near');
      assert.equal(await fx.sharded.shardOf(legacy.id), 'far');
      assert.equal((await store.readHistory({ roomId: legacy.id, limit: 10 })).messages[0]?.body, 'from before');
      assert.equal((await store.membership(legacy.id, a.id)).role, 'owner');
      assert.equal(await rowsOn('primary', 'messages', legacy.id), 0);
      const again = await store.getOrCreateDm({ id: newId(), name: '', topic: '', createdAt: Date.now() }, b.id, a.id);
      assert.equal(again.room.id, dm.room.id);
      assert.equal(again.created, false);
      assert.ok((await store.listMemberRooms(a.id, 10)).some((r) => r.room.id === legacy.id));
    });

    it('a batch over two shards, one of them down: the live shard\'s sends are committed and answered once, the other\'s answered unavailable', async () => {
      const owner = await user();
      const rooms: string[] = [];
      while (new Set(await Promise.all(rooms.map((r) => fx.sharded.shardOf(r)))).size < 2 || rooms.length < 4) {
        rooms.push((await store.createRoom({ id: newId(), name: 'batch', visibility: 'public', topic: '', createdAt: Date.now() }, owner.id)).room.id);
      }
      const placed = new Map(await Promise.all(rooms.map(async (r) => [r, await fx.sharded.shardOf(r)] as const)));
      const committed: AppendRequest[] = [];
      const committer = new GroupCommitter(store, { maxBatch: 100, maxQueue: 1_000, onCommitted: (requests) => committed.push(...requests), onError: () => undefined });
      await server.halt();
      let settled: Array<PromiseSettledResult<AppendOutcome>>;
      try {
        settled = await Promise.allSettled(rooms.map((roomId, i) => committer.append({ kind: 'message', roomId, userId: owner.id, id: newId(), body: `b${i}`, clientMsgId: `b${i}`, at: Date.now() })));
      } finally {
        await server.start();
      }
      for (const [i, roomId] of rooms.entries()) {
        const result = settled[i] as PromiseSettledResult<AppendOutcome>;
        if (placed.get(roomId) === 'far') {
          assert.equal(result.status, 'rejected');
          assert.equal(((result as PromiseRejectedResult).reason as AppError).code, 'unavailable');
        } else {
          assert.equal(result.status, 'fulfilled');
          assert.equal((result as PromiseFulfilledResult<AppendOutcome>).value.status, 'appended');
        }
      }
      assert.deepEqual(
        committed.map((r) => r.roomId).sort(),
        rooms.filter((r) => placed.get(r) !== 'far').sort(),
        'only what was committed is published',
      );
      // Each live room holds its message once (its founding event, then the message).
      for (const roomId of rooms.filter((r) => placed.get(r) !== 'far')) {
        assert.deepEqual(
          (await store.readEvents(roomId, 0, 10)).map((e) => e.kind),
          ['member_joined', 'message'],
        );
      }
    });

    it('a move interrupted after the target committed is finished by running it again, with nothing twice', async () => {
      const owner = await user();
      const room = (await store.createRoom({ id: newId(), name: 'interrupted', visibility: 'public', topic: '', createdAt: Date.now() }, owner.id)).room;
      await store.append(Array.from({ length: 5 }, (_, i) => ({ kind: 'message' as const, roomId: room.id, userId: owner.id, id: newId(), body: `m${i}`, clientMsgId: null, at: Date.now() })));
      const from = await fx.sharded.shardOf(room.id);
      const to = other(from);
      const shards = moveShards();
      // The first run announced the move and committed part of a copy, then died.
      await shards.get('primary')?.sql.beginMove(room.id, from, to, Date.now(), null);
      await sql`INSERT INTO rooms (id, name, visibility, topic, created_at, last_seq, last_activity_at) VALUES (${room.id}, 'partial', 'public', '', 0, 1, 0)`.execute(shards.get(to)?.db as never);
      const report = await move(room.id, to);
      assert.equal(report.rows.messages, 5);
      assert.equal((await store.findRoom(room.id))?.name, 'interrupted');
      assert.deepEqual(
        (await store.readEvents(room.id, 0, 100)).map((e) => e.seq),
        [1, 2, 3, 4, 5, 6],
      );
    });
  });
}
