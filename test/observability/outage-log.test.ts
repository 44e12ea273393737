import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unavailable } from '../../src/errors.js';
import { logFailure, OutageLog } from '../../src/observability/outage-log.js';
import { captureLogs, LEVEL } from '../support/log-capture.js';

describe('OutageLog', () => {
  it('logs the first failure of an outage and its end, with how long it lasted and how many failures were not logged', () => {
    const { log, lines } = captureLogs();
    let now = 1_000;
    const outage = new OutageLog(log, 'redis', () => now);
    outage.restored(); // nothing to end
    assert.equal(lines.length, 0);
    for (let i = 0; i < 115; i++) {
      outage.lost(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }));
      now += 10;
    }
    assert.equal(outage.down, true);
    outage.restored();
    outage.restored();
    assert.equal(outage.down, false);
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg, l.dependency]),
      [
        [LEVEL.error, 'redis unavailable', 'redis'],
        [LEVEL.info, 'redis available again', 'redis'],
      ],
    );
    assert.equal((lines[0]?.err as { message?: string } | undefined)?.message, 'connect ECONNREFUSED 127.0.0.1:6379');
    assert.equal(lines[1]?.downMs, 1_150);
    assert.equal(lines[1]?.suppressed, 114);
  });

  it('a later outage is logged again, its count starting from zero', () => {
    const { log, lines } = captureLogs();
    const outage = new OutageLog(log, 'postgres', () => 0);
    outage.lost(new Error('first'));
    outage.lost(new Error('second'));
    outage.restored();
    outage.lost(new Error('third'));
    outage.restored();
    assert.deepEqual(
      lines.map((l) => [l.msg, l.suppressed]),
      [
        ['postgres unavailable', undefined],
        ['postgres available again', 1],
        ['postgres unavailable', undefined],
        ['postgres available again', 0],
      ],
    );
  });
});

describe('OutageLog, late failures', () => {
  it('regression: a call in flight through the outage that fails after the recovery opens no new outage; a call started after it does', () => {
    const { log, lines } = captureLogs();
    let now = 0;
    const outage = new OutageLog(log, 'redis bus pub', () => now);
    outage.lost(new Error('Connection is closed.'), 0);
    now = 100;
    outage.restored();
    now = 2_000; // its command timeout, long after the reconnection
    outage.lost(new Error('Command timed out'), 50);
    assert.equal(outage.down, false);
    outage.lost(new Error('Connection is closed.'), 1_500);
    assert.equal(outage.down, true);
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['redis bus pub unavailable', 'redis bus pub available again', 'redis bus pub unavailable'],
    );
  });
});

describe('logFailure', () => {
  it('logs the consequences of an outage at debug, and any other failure as an error', () => {
    const { log, lines } = captureLogs('debug');
    logFailure(log, unavailable('The bus is unavailable.'), 'background task failed');
    logFailure(log, new TypeError('x is undefined'), 'background task failed', { context: 'gap fill' });
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg, l.context]),
      [
        [LEVEL.debug, 'background task failed', undefined],
        [LEVEL.error, 'background task failed', 'gap fill'],
      ],
    );
  });
});
