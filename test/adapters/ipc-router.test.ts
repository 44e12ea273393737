/**
 * The primary's IPC bus router. Regression: a publish forwarded to a worker that had just been
 * killed raised an unhandled EPIPE 'error' on the Worker and took the primary down, and with
 * it every other worker's bus.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { it } from 'node:test';
import { IpcBusRouter, type IpcBusMessage, type IpcEndpoint } from '../../src/adapters/ipc/bus.js';

class Endpoint extends EventEmitter implements IpcEndpoint {
  readonly received: IpcBusMessage[] = [];
  dead = false;

  send(message: IpcBusMessage, callback?: (error: Error | null) => void): boolean {
    if (this.dead) {
      // As node's ChildProcess does when the channel's other end is gone.
      const error = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      if (callback === undefined) setImmediate(() => this.emit('error', error));
      else setImmediate(() => callback(error));
      return false;
    }
    this.received.push(message);
    setImmediate(() => callback?.(null));
    return true;
  }
}

it('a send to a dead worker is reported, never thrown, and the others still get the message', async () => {
  const failures: Error[] = [];
  const router = new IpcBusRouter((error) => failures.push(error));
  const [publisher, dead, alive] = [new Endpoint(), new Endpoint(), new Endpoint()];
  for (const w of [publisher, dead, alive]) router.attach(w);
  dead.emit('message', { parley: 'bus', op: 'sub', channel: 'room:1', id: 1 });
  alive.emit('message', { parley: 'bus', op: 'sub', channel: 'room:1', id: 1 });
  dead.dead = true;
  publisher.emit('message', { parley: 'bus', op: 'pub', channel: 'room:1', payload: 'hello' });
  // A stray 'error' event of the worker (no callback path) is caught too.
  dead.emit('error', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    alive.received.filter((m) => m.op === 'msg'),
    [{ parley: 'bus', op: 'msg', channel: 'room:1', payload: 'hello' }],
  );
  assert.equal(failures.length, 2);
  assert.ok(failures.every((e) => (e as { code?: string }).code === 'EPIPE'));
});
