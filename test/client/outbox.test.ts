import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ParleyError } from '../../client/errors.js';
import { Outbox } from '../../client/outbox.js';

const frame = (n: number) => ({ roomId: 'r1', body: `m${n}`, clientMsgId: `c${n}` });
const ids = (entries: { frame: { clientMsgId: string } }[]) => entries.map((e) => e.frame.clientMsgId);

describe('outbox', () => {
  it('refuses past its limit with rate_limited, at once', () => {
    const o = new Outbox<null>({ limit: 2 });
    o.add(frame(1), null);
    o.add(frame(2), null);
    assert.throws(
      () => o.add(frame(3), null),
      (e: unknown) => e instanceof ParleyError && e.code === 'rate_limited' && e.details?.limit === 2,
    );
    o.settle('c1');
    o.add(frame(3), null);
    assert.equal(o.size, 2);
  });

  it('defaults to 1000 sends, 16 in flight', () => {
    const o = new Outbox<null>();
    assert.equal(o.limit, 1000);
    assert.equal(o.maxInFlight, 16);
  });

  it('puts at most maxInFlight on the wire, oldest first', () => {
    const o = new Outbox<null>({ maxInFlight: 2 });
    for (let n = 1; n <= 4; n++) o.add(frame(n), null);
    const due = o.due(0);
    assert.deepEqual(ids(due), ['c1', 'c2']);
    for (const [i, e] of due.entries()) o.markSent(e.frame.clientMsgId, i + 1);
    assert.deepEqual(ids(o.due(0)), []);
    o.settle('c1');
    assert.deepEqual(ids(o.due(0)), ['c3']);
  });

  it('resends the same frame, same clientMsgId, after the connection is lost', () => {
    const o = new Outbox<null>();
    o.add(frame(1), null);
    const [first] = o.due(0);
    o.markSent('c1', 7);
    o.connectionLost();
    assert.equal(o.inFlight, 0);
    const [again] = o.due(0);
    assert.equal(again, first);
    assert.deepEqual(again?.frame, frame(1));
    o.markSent('c1', 8);
    assert.equal(again?.attempts, 2);
    assert.equal(again?.requestId, 8);
  });

  it('resends after a reply timeout too', () => {
    const o = new Outbox<null>();
    o.add(frame(1), null);
    o.markSent('c1', 1);
    o.retry('c1');
    assert.deepEqual(ids(o.due(0)), ['c1']);
  });

  it('pauses every send after rate_limited, and keeps the refused one in its place', () => {
    const o = new Outbox<null>({ maxInFlight: 10 });
    for (let n = 1; n <= 3; n++) o.add(frame(n), null);
    for (const [i, e] of o.due(0).entries()) o.markSent(e.frame.clientMsgId, i + 1);
    o.pause('c2', 500, 1000);
    o.pause('c3', 300, 1000);
    assert.equal(o.pausedUntil, 1500);
    assert.deepEqual(ids(o.due(1499)), []);
    o.settle('c1');
    assert.deepEqual(ids(o.due(1500)), ['c2', 'c3']);
  });

  it('drain empties it and hands back the handles', () => {
    const o = new Outbox<string>();
    o.add(frame(1), 'h1');
    o.add(frame(2), 'h2');
    o.markSent('c1', 1);
    assert.deepEqual(o.drain().map((e) => e.handle), ['h1', 'h2']);
    assert.equal(o.size, 0);
    assert.equal(o.inFlight, 0);
  });

  it('ignores late news about settled entries', () => {
    const o = new Outbox<null>();
    o.add(frame(1), null);
    o.markSent('c1', 1);
    o.settle('c1');
    o.retry('c1');
    o.pause('c1', 100, 0);
    assert.equal(o.settle('c1'), undefined);
    assert.equal(o.inFlight, 0);
  });
});

describe('newClientMsgId', () => {
  it('gives distinct UUID v4 strings, with or without crypto.randomUUID', async () => {
    const { newClientMsgId } = await import('../../client/outbox.js');
    const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const a = newClientMsgId();
    assert.match(a, v4);
    // An insecure browser context has no randomUUID.
    const original = crypto.randomUUID;
    Object.defineProperty(crypto, 'randomUUID', { value: undefined, configurable: true, writable: true });
    try {
      const ids = new Set(Array.from({ length: 100 }, () => newClientMsgId()));
      assert.equal(ids.size, 100);
      for (const id of ids) assert.match(id, v4);
    } finally {
      Object.defineProperty(crypto, 'randomUUID', { value: original, configurable: true, writable: true });
    }
  });
});
