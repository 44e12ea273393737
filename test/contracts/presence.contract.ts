/** The Presence contract, for every Presence adapter. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Presence } from '../../src/ports.js';

export interface PresenceFixture {
  /** Two nodes' views of presence (the same instance for the in-process adapter), without an offline grace. */
  a: Presence;
  b: Presence;
  /** Two views with an offline grace of GRACE_MS. */
  graceA: Presence;
  graceB: Presence;
  cleanup(): Promise<void>;
}

/** The offline grace of the fixture's `graceA` and `graceB`. */
export const GRACE_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const id = () => randomBytes(8).toString('hex');

export function presenceContract(name: string, open: () => Promise<PresenceFixture>): void {
  describe(`Presence contract: ${name}`, () => {
    let fx: PresenceFixture;
    before(async () => {
      fx = await open();
    });
    after(async () => {
      await fx.cleanup();
    });

    it('a user is online from the first connection to the last, on any node', async () => {
      const [user, other] = [id(), id()];
      assert.equal(await fx.a.connect(user, 'c1'), true);
      assert.equal(await fx.b.connect(user, 'c2'), false);
      assert.deepEqual([...(await fx.b.online([user, other]))], [user]);
      assert.equal(await fx.a.disconnect(user, 'c1'), 'unchanged');
      assert.deepEqual([...(await fx.a.online([user]))], [user]);
      assert.equal(await fx.b.disconnect(user, 'c2'), 'offline');
      assert.deepEqual([...(await fx.a.online([user]))], []);
    });

    it('disconnecting an unknown connection changes nothing', async () => {
      const user = id();
      assert.equal(await fx.a.disconnect(user, 'nope'), 'unchanged');
      assert.equal(await fx.a.connect(user, 'c1'), true);
      assert.equal(await fx.a.disconnect(user, 'c1'), 'offline');
      assert.equal(await fx.a.disconnect(user, 'c1'), 'unchanged');
      assert.deepEqual([...(await fx.a.online([]))], []);
      assert.equal(await fx.a.settle(user), false, 'nothing to settle without a grace');
    });

    it('with a grace, a user whose last connection closed stays online until it ends, then is settled offline once', async () => {
      const user = id();
      assert.equal(await fx.graceA.connect(user, 'c1'), true);
      assert.equal(await fx.graceA.disconnect(user, 'c1'), 'lingering');
      assert.deepEqual([...(await fx.graceB.online([user]))], [user], 'online through the grace, on every node');
      assert.equal(await fx.graceB.settle(user), false, 'not before the grace ends');
      await sleep(GRACE_MS + 50);
      assert.deepEqual([...(await fx.graceB.online([user]))], []);
      const settled = await Promise.all([fx.graceA.settle(user), fx.graceB.settle(user)]);
      assert.deepEqual(settled.sort(), [false, true], 'settled by exactly one caller');
      assert.equal(await fx.graceA.connect(user, 'c2'), true, 'a connection after the grace comes online again');
    });

    it('with a grace, a user who reconnects within it, on any node, never went offline', async () => {
      const user = id();
      await fx.graceA.connect(user, 'c1');
      assert.equal(await fx.graceA.disconnect(user, 'c1'), 'lingering');
      assert.equal(await fx.graceB.connect(user, 'c2'), false, 'no change: still online');
      await sleep(GRACE_MS + 50);
      assert.equal(await fx.graceA.settle(user), false, 'the grace ended with a connection held: not offline');
      assert.deepEqual([...(await fx.graceA.online([user]))], [user]);
      // A second drop starts a new grace; an earlier settle does not end it early.
      assert.equal(await fx.graceB.disconnect(user, 'c2'), 'lingering');
      assert.equal(await fx.graceA.settle(user), false);
      await sleep(GRACE_MS + 50);
      assert.equal(await fx.graceA.settle(user), true);
    });
  });
}
