/** The Presence contract, for every Presence adapter. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Presence } from '../../src/ports.js';

export interface PresenceFixture {
  /** Two nodes' views of presence (the same instance for the in-process adapter). */
  a: Presence;
  b: Presence;
  cleanup(): Promise<void>;
}

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
      assert.equal(await fx.a.disconnect(user, 'c1'), false);
      assert.deepEqual([...(await fx.a.online([user]))], [user]);
      assert.equal(await fx.b.disconnect(user, 'c2'), true);
      assert.deepEqual([...(await fx.a.online([user]))], []);
    });

    it('disconnecting an unknown connection changes nothing', async () => {
      const user = id();
      assert.equal(await fx.a.disconnect(user, 'nope'), false);
      assert.equal(await fx.a.connect(user, 'c1'), true);
      assert.equal(await fx.a.disconnect(user, 'c1'), true);
      assert.equal(await fx.a.disconnect(user, 'c1'), false);
      assert.deepEqual([...(await fx.a.online([]))], []);
    });
  });
}
