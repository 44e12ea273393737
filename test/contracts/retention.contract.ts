/**
 * Retention against a real store: messages past a room's policy (its own, or the server's)
 * become tombstones — out of history, replay and search — in bounded batches that resume from a
 * cursor, while newer ones stay as they were; the server's audit log loses its entries past
 * SERVER_AUDIT_RETENTION_DAYS the same way. Run on SQLite and on PostgreSQL.
 */
import { searchIndexed } from '../support/search-index.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Access } from '../../src/domain/access.js';
import { newId } from '../../src/domain/ids.js';
import { MembershipCache } from '../../src/domain/membership-cache.js';
import type { UserRecord } from '../../src/domain/types.js';
import { AppError } from '../../src/errors.js';
import type { Job, Store } from '../../src/ports.js';
import { Retention } from '../../src/retention/retention.js';

const DAY = 86_400_000;

export interface RetentionFixture {
  store: Store;
  cleanup(): Promise<void>;
}

const job = (): Job => ({ id: 'j', queue: 'retention', payload: {}, key: null, attempt: 1, attempts: 1, enqueuedAt: Date.now(), signal: new AbortController().signal });

export function retentionContract(name: string, setup: () => Promise<RetentionFixture>): void {
  describe(`retention: ${name}`, () => {
    let store: Store;
    let fixture: RetentionFixture;
    let access: Access;
    const now = Date.now();

    before(async () => {
      fixture = await setup();
      store = fixture.store;
      await store.migrate();
      access = new Access(store, new MembershipCache((roomId, userId) => store.membership(roomId, userId)));
    });
    after(async () => fixture.cleanup());

    async function user(): Promise<UserRecord> {
      const u: UserRecord = { id: newId(), username: `u_${newId().slice(0, 10)}`.toLowerCase(), displayName: 'U', passwordHash: 'scrypt$x', createdAt: now - 100 * DAY };
      await store.createUser(u);
      return u;
    }

    /** A room with `ages.length` messages, the i-th `ages[i]` days old (oldest first), each with a word of its own. */
    async function roomWith(owner: UserRecord, ages: number[]): Promise<string> {
      const { room } = await store.createRoom({ id: newId(), name: `r ${newId().slice(0, 6)}`, visibility: 'public', topic: '', createdAt: now - 100 * DAY }, owner.id);
      const requests = ages.map((days, i) => ({
        kind: 'message' as const,
        roomId: room.id,
        userId: owner.id,
        id: newId(),
        body: `word${i} aged ${days}`,
        clientMsgId: null,
        at: now - days * DAY,
      }));
      for (let i = 0; i < requests.length; i += 200) await store.append(requests.slice(i, i + 200));
      return room.id;
    }

    it('tombstones what is past the server policy, in batches, and keeps the rest', async () => {
      const owner = await user();
      // 230 messages 40 days old, then 5 of 10 days.
      const roomId = await roomWith(owner, [...Array.from({ length: 230 }, () => 40), 10, 10, 10, 10, 10]);
      const purged: Array<[string, number]> = [];
      const retention = new Retention(store, access, { serverDays: 30, batch: 50, onPurged: (r, s) => purged.push([r, s]), now: () => now });
      const pass = await retention.run(job());
      assert.ok(pass.tombstoned >= 230, `tombstoned ${pass.tombstoned}`);
      const ours = purged.filter(([r]) => r === roomId);
      assert.ok(ours.length >= 5, 'told once per batch');
      assert.equal(ours.at(-1)?.[1], 231, 'through the last old message (seq 1 is the owner joining)');

      const page = await store.readHistory({ roomId, after: 0, limit: 300 });
      const old = page.messages.filter((m) => m.seq <= 231);
      const recent = page.messages.filter((m) => m.seq > 231);
      assert.equal(old.length, 230);
      assert.ok(old.every((m) => m.deleted && m.body === ''));
      assert.equal(recent.length, 5);
      assert.ok(recent.every((m) => !m.deleted && m.body.includes('aged 10')));
      // Replay shows the tombstones too.
      const events = await store.readEvents(roomId, 0, 300);
      assert.ok(events.filter((e) => e.kind === 'message' && e.seq <= 231).every((e) => e.message?.deleted === true && e.message.body === ''));
      // Search no longer finds them.
      const search = (word: string) => searchIndexed(store, { userId: owner.id, terms: [word], roomId, limit: 10, maxCandidates: 1_000, deadlineAt: Date.now() + 5_000 });
      assert.deepEqual((await search('word3')).hits, []);
      assert.equal((await search('word232')).hits.length, 1);
      // The cursor moved: the next pass finds nothing to do in the room.
      assert.equal((await store.roomRetention(roomId))?.purgedSeq, 231);
      purged.length = 0;
      await retention.run(job());
      assert.deepEqual(
        purged.filter(([r]) => r === roomId),
        [],
      );
    });

    it("a room's own policy applies: shorter than the server's, never longer; only its owner sets it", async () => {
      const owner = await user();
      const member = await user();
      const roomId = await roomWith(owner, [20, 20, 3]);
      await store.append([{ kind: 'member_joined', roomId, userId: member.id, role: 'member', addedBy: null, at: now }]);
      const retention = new Retention(store, access, { serverDays: 30, batch: 100, onPurged: () => undefined, now: () => now });
      await assert.rejects(retention.setPolicy(member.id, roomId, 7), (e: unknown) => e instanceof AppError && e.code === 'forbidden');
      await assert.rejects(retention.setPolicy(owner.id, roomId, 60), (e: unknown) => e instanceof AppError && e.code === 'validation_failed');
      await assert.rejects(retention.setPolicy(owner.id, roomId, 0), (e: unknown) => e instanceof AppError && e.code === 'validation_failed');
      assert.deepEqual(await retention.setPolicy(owner.id, roomId, 7), { days: 7, serverDays: 30, effectiveDays: 7 });
      assert.deepEqual(await retention.policy(member.id, roomId), { days: 7, serverDays: 30, effectiveDays: 7 });
      await retention.run(job());
      const { messages } = await store.readHistory({ roomId, after: 0, limit: 10 });
      assert.deepEqual(
        messages.map((m) => m.deleted),
        [true, true, false],
      );
      assert.deepEqual(await retention.setPolicy(owner.id, roomId, null), { days: null, serverDays: 30, effectiveDays: 30 });
    });

    it('keeps everything without a policy, and stops when the job is given up', async () => {
      const owner = await user();
      const roomId = await roomWith(owner, [400, 400]);
      const keepAll = new Retention(store, access, { serverDays: 0, batch: 100, onPurged: () => undefined, now: () => now });
      await keepAll.run(job());
      assert.ok((await store.readHistory({ roomId, after: 0, limit: 10 })).messages.every((m) => !m.deleted));
      assert.deepEqual(await keepAll.policy(owner.id, roomId), { days: null, serverDays: null, effectiveDays: null });
      const controller = new AbortController();
      controller.abort();
      const strict = new Retention(store, access, { serverDays: 1, batch: 100, onPurged: () => undefined, now: () => now });
      const pass = await strict.run({ ...job(), signal: controller.signal });
      assert.equal(pass.tombstoned, 0);
    });

    it("deletes the server's audit entries past its own policy, oldest first in batches, and keeps the rest", async () => {
      const admin = await user();
      const ages = [90, 61, 45, 40, 31, 29, 2, 0];
      for (const [i, days] of ages.entries()) {
        await store.recordServerAudit({ at: now - days * DAY, action: `action_${i}`, actorId: i % 2 === 0 ? admin.id : null, via: i % 2 === 0 ? 'api' : 'console', userId: null, roomId: null, data: { i } });
      }
      const actions = async () => (await store.listServerAudit(undefined, 100)).map((e) => e.action);
      const keepAll = new Retention(store, access, { serverDays: 0, batch: 2, onPurged: () => undefined, now: () => now });
      assert.equal((await keepAll.run(job())).auditPruned, 0, 'no policy: nothing goes');
      const stopped = new AbortController();
      stopped.abort();
      const month = new Retention(store, access, { serverDays: 0, serverAuditDays: 30, batch: 2, onPurged: () => undefined, now: () => now });
      assert.equal((await month.run({ ...job(), signal: stopped.signal })).auditPruned, 0, 'a job given up deletes nothing');
      assert.equal((await actions()).length, ages.length);

      const pass = await month.run(job());
      assert.equal(pass.auditPruned, 5, 'in three batches of at most two');
      assert.deepEqual(await actions(), ['action_7', 'action_6', 'action_5']);
      assert.equal((await month.run(job())).auditPruned, 0, 'a second pass finds nothing more');
      // The entries kept still read whole, newest first.
      const kept = await store.listServerAudit(undefined, 100);
      assert.deepEqual(
        kept.map((e) => [e.via, e.actor?.id ?? null, e.data]),
        [
          ['console', null, { i: 7 }],
          ['api', admin.id, { i: 6 }],
          ['console', null, { i: 5 }],
        ],
      );

      // Everything past the policy: the newest entry stays, so no id is ever handed out again
      // (on SQLite the next id is the largest plus one).
      const later = new Retention(store, access, { serverDays: 0, serverAuditDays: 30, batch: 2, onPurged: () => undefined, now: () => now + 400 * DAY });
      assert.equal((await later.run(job())).auditPruned, 2);
      assert.deepEqual(await actions(), ['action_7']);
      const newest = (await store.listServerAudit(undefined, 1))[0]?.id as number;
      await store.recordServerAudit({ at: now, action: 'after', actorId: null, via: 'console', userId: null, roomId: null, data: null });
      const next = (await store.listServerAudit(undefined, 1))[0]?.id as number;
      assert.ok(next > newest, `id ${next} after ${newest}`);
    });
  });
}
