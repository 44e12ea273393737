import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ID_BYTES, MembershipCache } from '../../src/domain/membership-cache.js';
import type { MembershipRecord } from '../../src/domain/types.js';

const none = async (): Promise<MembershipRecord> => ({ role: null, asOfSeq: 0 });

/** A cache over a fake member-list loader that counts its loads. */
function cache(lists: Record<string, { ids: string[]; asOfSeq: number }>, options: { maxListBytes?: number; maxRooms?: number } = {}) {
  const loads: string[] = [];
  const members = new MembershipCache(none, {
    ...options,
    loadMemberIds: async (roomId) => {
      loads.push(roomId);
      const list = lists[roomId] ?? { ids: [], asOfSeq: 0 };
      return { ids: [...list.ids], asOfSeq: list.asOfSeq };
    },
  });
  return { members, loads };
}

describe('MembershipCache member lists', () => {
  it('loads a list once and then follows joins and leaves in place', async () => {
    const { members, loads } = cache({ r: { ids: ['a', 'b'], asOfSeq: 10 } });
    assert.deepEqual([...(await members.memberIds('r'))], ['a', 'b']);
    members.changed('r', 'c', { joined: true, seq: 11 });
    members.changed('r', 'a', { joined: false, seq: 12 });
    assert.deepEqual([...(await members.memberIds('r'))].sort(), ['b', 'c']);
    assert.deepEqual(loads, ['r'], 'one load for the room');
  });

  it('ignores a change the list already holds, late or repeated', async () => {
    const { members } = cache({ r: { ids: ['a'], asOfSeq: 10 } });
    await members.memberIds('r');
    members.changed('r', 'b', { joined: true, seq: 9 }); // before the load: already in it (or not)
    members.changed('r', 'a', { joined: false, seq: 13 });
    members.changed('r', 'a', { joined: true, seq: 12 }); // late: the leave at 13 is newer
    members.changed('r', 'a', { joined: false, seq: 13 }); // repeated
    assert.deepEqual([...(await members.memberIds('r'))], []);
  });

  it('does not keep a load that a change overtook', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let loads = 0;
    const members = new MembershipCache(none, {
      loadMemberIds: async () => {
        loads++;
        if (loads === 1) await gate;
        return { ids: loads === 1 ? ['a'] : ['a', 'b'], asOfSeq: loads === 1 ? 1 : 2 };
      },
    });
    const first = members.memberIds('r');
    members.changed('r', 'b', { joined: true, seq: 2 });
    release();
    assert.deepEqual([...(await first)], ['a'], 'the caller gets its answer');
    assert.deepEqual([...(await members.memberIds('r'))], ['a', 'b'], 'but it is not kept: the next read loads again');
    assert.equal(loads, 2);
  });

  it('drops the list on a change of the earlier form (what changed is unknown), and on clear()', async () => {
    const { members, loads } = cache({ r: { ids: ['a'], asOfSeq: 1 } });
    await members.memberIds('r');
    members.changed('r', 'a', null);
    await members.memberIds('r');
    members.clear();
    await members.memberIds('r');
    assert.equal(loads.length, 3);
  });

  it('is bounded in bytes: past the bound the oldest lists go', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => `u${i}`);
    const { members, loads } = cache({ r1: { ids, asOfSeq: 1 }, r2: { ids, asOfSeq: 1 }, r3: { ids, asOfSeq: 1 } }, { maxListBytes: 250 * ID_BYTES });
    await members.memberIds('r1');
    await members.memberIds('r2');
    assert.equal(members.listBytes, 200 * ID_BYTES);
    await members.memberIds('r3');
    assert.ok(members.listBytes <= 250 * ID_BYTES);
    await members.memberIds('r3');
    await members.memberIds('r2');
    assert.deepEqual(loads, ['r1', 'r2', 'r3'], 'r2 and r3 kept, r1 evicted');
    await members.memberIds('r1');
    assert.equal(loads.length, 4);
  });

  it('keeps the lists of a user in 10,000 rooms of 30 members with the default bounds', async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `member-id-of-22-chars${i}`);
    const lists: Record<string, { ids: string[]; asOfSeq: number }> = {};
    for (let i = 0; i < 10_000; i++) lists[`room${i}`] = { ids, asOfSeq: 1 };
    const { members, loads } = cache(lists);
    for (let i = 0; i < 10_000; i++) await members.memberIds(`room${i}`);
    for (let i = 0; i < 10_000; i++) await members.memberIds(`room${i}`);
    assert.equal(loads.length, 10_000, 'no list loaded twice');
  });
});
