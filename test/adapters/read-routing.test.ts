/**
 * The parts of read-replica routing that are arithmetic: WAL positions, and the bounded write
 * marks, which may forget a user but must never let a forgotten write be read stale.
 * (The routing itself runs against a real streaming replica: test/integration/read-replicas.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLsn, serverName } from '../../src/adapters/sql/postgres-replicas.js';
import { WriteMarks } from '../../src/adapters/sql/write-marks.js';

describe('read routing', () => {
  it('reads WAL positions as PostgreSQL writes them, in order', () => {
    assert.equal(parseLsn('0/0'), 0n);
    assert.equal(parseLsn('0/3016130'), 0x3016130n);
    assert.equal(parseLsn('16/B374D848'), (0x16n << 32n) + 0xb374d848n);
    assert.ok(parseLsn('1/0') > parseLsn('0/FFFFFFFF'));
    for (const bad of ['', '0', '0/', '/1', 'G/1', '0/1/2', '123456789/0']) assert.throws(() => parseLsn(bad), /not a WAL position/);
  });

  it('names a server without its password', () => {
    assert.equal(serverName('postgres://parley:secret@db-2.internal:6432/chat'), 'db-2.internal:6432/chat');
    assert.equal(serverName('postgres://db/chat'), 'db:5432/chat');
  });

  it('holds each user to their latest write, forgets marks older than any lag, and a forgotten fresh mark binds everyone', () => {
    const marks = new WriteMarks(2);
    assert.equal(marks.since('ann'), Number.NEGATIVE_INFINITY);
    marks.mark('ann', 10);
    marks.mark('bob', 20);
    marks.mark('ann', 30);
    assert.equal(marks.since('ann'), 30);
    assert.equal(marks.since('bob'), 20);
    // Full: bob's mark (the oldest) is forgotten, and becomes the floor of every user.
    marks.mark('cy', 40);
    assert.equal(marks.size, 2);
    assert.equal(marks.since('bob'), 20);
    assert.equal(marks.since('dee'), 20);
    assert.equal(marks.since('cy'), 40);
    // Past the lag bound, marks and the floor bind nothing any more.
    marks.prune(35);
    assert.equal(marks.since('ann'), Number.NEGATIVE_INFINITY);
    assert.equal(marks.since('dee'), Number.NEGATIVE_INFINITY);
    assert.equal(marks.since('cy'), 40);
  });
});
