/**
 * The Bus contract: what every Bus adapter must do, run against each of them. `a` and `b` are
 * two nodes of one deployment (the same instance for the in-process bus).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Bus, Channel } from '../../src/ports.js';

export interface BusFixture {
  a: Bus;
  b: Bus;
  /** Breaks b's connection the way a server or network fault would; b must recover by itself. */
  breakConnection?(): Promise<void>;
  cleanup(): Promise<void>;
}

const room = (): Channel => `room:${randomBytes(9).toString('base64url')}`;

/** Collects what a handler receives. */
function collector() {
  const received: string[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  return {
    received,
    handler: (payload: string) => {
      received.push(payload);
      for (const w of [...waiters]) {
        if (received.length >= w.count) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
      }
    },
    until(count: number, timeoutMs = 5_000): Promise<void> {
      if (received.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`received ${received.length} of ${count} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
  };
}

export function busContract(name: string, open: () => Promise<BusFixture>, options: { breakable: boolean }): void {
  describe(`Bus contract: ${name}`, () => {
    let fx: BusFixture;
    before(async () => {
      fx = await open();
    });
    after(async () => {
      await fx.cleanup();
    });

    it('delivers to subscribers on the other node and on the same node', async () => {
      const channel = room();
      const remote = collector();
      const local = collector();
      const stopRemote = await fx.b.subscribe(channel, remote.handler);
      const stopLocal = await fx.a.subscribe(channel, local.handler);
      await fx.a.publish(channel, 'hello');
      await Promise.all([remote.until(1), local.until(1)]);
      assert.deepEqual(remote.received, ['hello']);
      assert.deepEqual(local.received, ['hello']);
      await stopRemote();
      await stopLocal();
    });

    it('regression: a handler that throws is isolated: the other handlers still get every message, and the process lives', async () => {
      const channel = room();
      const healthy = collector();
      let thrown = 0;
      const stopThrowing = await fx.a.subscribe(channel, () => {
        thrown++;
        throw new Error('a handler bug');
      });
      const stopHealthy = await fx.a.subscribe(channel, healthy.handler);
      await fx.a.publish(channel, 'from a');
      await fx.b.publish(channel, 'from b');
      await fx.a.publish(channel, 'after');
      await healthy.until(3);
      assert.deepEqual([...healthy.received].sort(), ['after', 'from a', 'from b']);
      assert.equal(thrown, 3);
      await stopThrowing();
      await stopHealthy();
    });

    it('keeps one publisher’s messages in order on a channel', async () => {
      const channel = room();
      const c = collector();
      const stop = await fx.b.subscribe(channel, c.handler);
      const sent = Array.from({ length: 500 }, (_, i) => `m${i}`);
      await Promise.all(sent.map((m) => fx.a.publish(channel, m)));
      await c.until(500);
      assert.deepEqual(c.received, sent);
      await stop();
    });

    it('keeps channels apart, and carries any text intact', async () => {
      const [one, two] = [room(), room()];
      const user: Channel = `user:${randomBytes(9).toString('base64url')}`;
      const c1 = collector();
      const c2 = collector();
      const cu = collector();
      const stops = await Promise.all([fx.b.subscribe(one, c1.handler), fx.b.subscribe(two, c2.handler), fx.b.subscribe(user, cu.handler)]);
      const text = `{"body":"héllo 👋 \\u0000 ${'x'.repeat(60_000)}"}`;
      await fx.a.publish(one, text);
      await fx.a.publish(user, 'to the user');
      await fx.a.publish(two, 'two');
      await Promise.all([c1.until(1), c2.until(1), cu.until(1)]);
      assert.deepEqual(c1.received, [text]);
      assert.deepEqual(c2.received, ['two']);
      assert.deepEqual(cu.received, ['to the user']);
      for (const stop of stops) await stop();
    });

    it('stops delivering after the last handler of a channel leaves, not before', async () => {
      const channel = room();
      const sentinel = room();
      const first = collector();
      const second = collector();
      const s = collector();
      const stopFirst = await fx.b.subscribe(channel, first.handler);
      const stopSecond = await fx.b.subscribe(channel, second.handler);
      const stopSentinel = await fx.b.subscribe(sentinel, s.handler);
      await fx.a.publish(channel, 'both');
      await Promise.all([first.until(1), second.until(1)]);
      await stopFirst();
      await fx.a.publish(channel, 'second only');
      await second.until(2);
      await stopSecond();
      await fx.a.publish(channel, 'nobody');
      await fx.a.publish(sentinel, 'done');
      await s.until(1);
      assert.deepEqual(first.received, ['both']);
      assert.deepEqual(second.received, ['both', 'second only']);
      await stopSentinel();
      await stopFirst(); // twice is harmless
    });

    it('a subscription is established when subscribe resolves', async () => {
      for (let i = 0; i < 20; i++) {
        const channel = room();
        const c = collector();
        const stop = await fx.b.subscribe(channel, c.handler);
        await fx.a.publish(channel, `now ${i}`);
        await c.until(1);
        await stop();
      }
    });

    it('resubscribe keeps every subscription and reports a reset', async () => {
      const channel = room();
      const c = collector();
      let resets = 0;
      fx.b.onReset(() => resets++);
      const stop = await fx.b.subscribe(channel, c.handler);
      await fx.b.resubscribe();
      assert.ok(resets >= 1);
      await fx.a.publish(channel, 'after');
      await c.until(1);
      await stop();
    });

    if (!options.breakable) return;

    it('recovers from a broken connection by itself and reports a reset', async () => {
      assert.ok(fx.breakConnection, 'a breakable bus fixture must say how to break it');
      const channel = room();
      const c = collector();
      const reset = new Promise<void>((resolve) => fx.b.onReset(resolve));
      const stop = await fx.b.subscribe(channel, c.handler);
      await fx.breakConnection();
      await Promise.race([reset, new Promise((_, reject) => setTimeout(() => reject(new Error('no reset within 10 s')), 10_000))]);
      // At most once: what a publishes while it is itself still reconnecting may be lost, so
      // publish until one arrives.
      const deadline = Date.now() + 10_000;
      while (c.received.length === 0 && Date.now() < deadline) {
        await fx.a.publish(channel, 'healed').catch(() => undefined);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(c.received.at(-1), 'healed');
      await stop();
    });
  });
}
