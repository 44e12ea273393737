/**
 * The parts of read-replica routing that are arithmetic: WAL positions, and the bounded write
 * marks, which may forget a user but must never let a forgotten write be read stale.
 * (The routing itself runs against a real streaming replica: test/integration/read-replicas.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseLsn, serverName } from '../../src/adapters/sql/postgres-replicas.js';
import { UNKNOWN_POSITION, WriteMarks } from '../../src/adapters/sql/write-marks.js';
import { postgresFailureKind } from '../../src/adapters/outage.js';

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
    assert.equal(marks.since('ann'), null);
    marks.mark('ann', 100n, 10);
    marks.mark('bob', 200n, 20);
    marks.mark('ann', 300n, 30);
    assert.equal(marks.since('ann'), 300n);
    assert.equal(marks.since('bob'), 200n);
    // A later mark never lowers a user's position (an unknown one stays unknown).
    marks.mark('bob', UNKNOWN_POSITION, 31);
    marks.mark('bob', 250n, 32);
    assert.equal(marks.since('bob'), UNKNOWN_POSITION);
    // Full: the oldest mark (ann's) is forgotten, and becomes the floor of every user.
    marks.mark('cy', 400n, 40);
    assert.equal(marks.size, 2);
    assert.equal(marks.since('ann'), 300n);
    assert.equal(marks.since('dee'), 300n);
    assert.equal(marks.since('cy'), 400n);
    // Past the time a mark binds, marks and the floor bind nothing any more.
    marks.prune(35);
    assert.equal(marks.since('ann'), null);
    assert.equal(marks.since('dee'), null);
    assert.equal(marks.since('cy'), 400n);
  });

  it('tells a lost connection from a cancelled statement and a replay conflict', () => {
    const pgError = (code: string) => Object.assign(new Error('x'), { code });
    const wrapped = (cause: unknown) => Object.assign(new Error('The database is unavailable; retry shortly.'), { cause });
    assert.equal(postgresFailureKind(wrapped(pgError('ECONNREFUSED'))), 'connection');
    assert.equal(postgresFailureKind(wrapped(pgError('57P01'))), 'connection');
    assert.equal(postgresFailureKind(wrapped(new Error('Connection terminated unexpectedly'))), 'connection');
    assert.equal(postgresFailureKind(wrapped(pgError('57014'))), 'cancelled');
    assert.equal(postgresFailureKind(wrapped(new Error('Query read timeout'))), 'cancelled');
    assert.equal(postgresFailureKind(wrapped(pgError('40001'))), 'conflict');
    assert.equal(postgresFailureKind(wrapped(new Error('timeout exceeded when trying to connect'))), 'other');
  });
});
