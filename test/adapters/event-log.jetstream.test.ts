/**
 * The EventLog port on NATS JetStream, against a server of the test's own (file storage in its
 * directory, kept across restarts): appends deduplicated by id, consumer groups keeping their
 * own offsets, redelivery of a failed batch, one batch of a group out at a time across
 * processes, filters, lag, rewind, and a restart of the server under appends and consumers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JetStreamLog } from '../../src/adapters/nats/event-log.js';
import type { LogEntry, LogRecord } from '../../src/ports.js';
import { NATS_SERVER, requireBinary, type ServerHandle, startNats } from '../support/services.js';

const errors: string[] = [];
const onError = (error: unknown, context: string) => errors.push(`${context}: ${String(error)}`);

let stream = 0;
async function openLog(server: ServerHandle, name?: string): Promise<JetStreamLog> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await JetStreamLog.open({ url: server.url, stream: name ?? `T${++stream}`, prefix: `t${stream}`, maxAgeMs: 3_600_000, maxBytes: 64 * 1024 * 1024, duplicateWindowMs: 120_000, timeoutMs: 2_000, onError });
    } catch (error) {
      // JetStream may still be starting right after the port opens.
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const records = (from: number, to: number, family = 'stream'): LogRecord[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ id: `r:${from + i}`, subject: `${family}.message`, data: JSON.stringify({ n: from + i }) }));

/** Consumes `group` until `until` holds of what was taken (or 15 s pass), then stops. */
async function take(log: JetStreamLog, group: string, until: (all: LogEntry[]) => boolean, options: { families?: string[]; fail?: (batch: LogEntry[]) => boolean } = {}): Promise<LogEntry[]> {
  const all: LogEntry[] = [];
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const stop = log.consume(group, { batch: 16, ...(options.families === undefined ? {} : { families: options.families }) }, async (batch) => {
    if (options.fail?.(batch) === true) throw new Error('handler failed on purpose');
    all.push(...batch);
    if (until(all)) done();
  });
  const timer = setTimeout(done, 15_000);
  await finished;
  clearTimeout(timer);
  await stop();
  return all;
}

const numbers = (entries: LogEntry[]) => entries.map((e) => (JSON.parse(e.data) as { n: number }).n);

if (requireBinary(NATS_SERVER, 'nats-server', 'JetStream event log')) {
  describe('EventLog on JetStream', () => {
    let server: ServerHandle;
    before(async () => {
      server = await startNats({ jetStream: true });
    });
    after(async () => {
      await server.stop();
    });

    it('hands every record once, in order, with its id, subject, offset and time; an id appended again is stored once', async () => {
      const log = await openLog(server);
      try {
        const before = Date.now();
        await log.append(records(1, 50));
        await log.append(records(41, 60)); // 41–50 again: stored once
        const all = await take(log, 'g', (a) => a.length >= 60);
        assert.deepEqual(numbers(all), Array.from({ length: 60 }, (_, i) => i + 1));
        assert.deepEqual(all.map((e) => e.id).slice(0, 2), ['r:1', 'r:2']);
        assert.equal(all[0]?.subject, 'stream.message');
        assert.ok(all.every((e, i) => i === 0 || e.offset > (all[i - 1] as LogEntry).offset), 'offsets grow');
        assert.ok(all.every((e) => e.storedAt >= before - 1_000 && e.storedAt <= Date.now() + 1_000 && e.redelivered === 0));
        const lag = await log.lag('g');
        assert.equal(lag.pending, 0);
        assert.equal(lag.acknowledged, all.at(-1)?.offset);
      } finally {
        await log.close();
      }
    });

    it('a group goes on from its own offset; another group starts from the first record', async () => {
      const log = await openLog(server);
      try {
        await log.append(records(1, 20));
        assert.equal((await take(log, 'a', (all) => all.length >= 20)).length, 20);
        await log.append(records(21, 30));
        assert.equal((await log.lag('a')).pending, 10);
        assert.deepEqual(numbers(await take(log, 'a', (all) => all.length >= 10)), [21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
        assert.equal(numbers(await take(log, 'b', (all) => all.length >= 30))[0], 1);
      } finally {
        await log.close();
      }
    });

    it('a batch whose handler fails is handed again, and nothing after it is lost', async () => {
      const log = await openLog(server);
      try {
        await log.append(records(1, 40));
        let calls = 0;
        const all = await take(log, 'g', (a) => new Set(numbers(a)).size >= 40, { fail: () => ++calls <= 2 });
        assert.ok(calls >= 3);
        assert.deepEqual([...new Set(numbers(all))].sort((x, y) => x - y), Array.from({ length: 40 }, (_, i) => i + 1));
        assert.ok(all.some((e) => e.redelivered > 0), 'the failed batch came back as redelivered');
      } finally {
        await log.close();
      }
    });

    it('two processes of one group: at most one batch of records is out at a time, each process takes them in log order, and together they take everything once', async () => {
      const name = `T${++stream}`;
      const a = await openLog(server, name);
      const b = await openLog(server, name);
      try {
        await a.append(records(1, 300));
        let inFlight = 0;
        let most = 0;
        const seen: number[] = [];
        const byProcess: number[][] = [[], []];
        let done: () => void = () => undefined;
        const finished = new Promise<void>((resolve) => (done = resolve));
        const handle = (p: number) => async (batch: LogEntry[]) => {
          inFlight += batch.length;
          most = Math.max(most, inFlight);
          await new Promise((r) => setTimeout(r, 5));
          seen.push(...numbers(batch));
          byProcess[p]?.push(...numbers(batch));
          inFlight -= batch.length;
          if (seen.length >= 300) done();
        };
        const stops = [a.consume('shared', { batch: 16 }, handle(0)), b.consume('shared', { batch: 16 }, handle(1))];
        const timer = setTimeout(done, 20_000);
        await finished;
        clearTimeout(timer);
        await Promise.all(stops.map((stop) => stop()));
        assert.ok(most <= 16, `at most one batch of records out at once (${most})`);
        assert.deepEqual([...seen].sort((x, y) => x - y), Array.from({ length: 300 }, (_, i) => i + 1), 'each once');
        for (const taken of byProcess) assert.deepEqual(taken, [...taken].sort((x, y) => x - y), 'in log order within a process');
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('families filter what a group takes', async () => {
      const log = await openLog(server);
      try {
        await log.append([...records(1, 5, 'ops'), ...records(6, 10, 'stream'), ...records(11, 12, 'ops')]);
        const ops = await take(log, 'ops-only', (all) => all.length >= 7, { families: ['ops'] });
        assert.deepEqual(numbers(ops), [1, 2, 3, 4, 5, 11, 12]);
        assert.ok(ops.every((e) => e.subject.startsWith('ops.')));
      } finally {
        await log.close();
      }
    });

    it('rewind replays a group from an offset', async () => {
      const log = await openLog(server);
      try {
        await log.append(records(1, 30));
        const first = await take(log, 'g', (all) => all.length >= 30);
        await log.rewind('g', (first[9] as LogEntry).offset);
        assert.equal((await log.lag('g')).pending, 21);
        assert.deepEqual(numbers(await take(log, 'g', (all) => all.length >= 21)), Array.from({ length: 21 }, (_, i) => i + 10));
      } finally {
        await log.close();
      }
    });

    it('a restart of the server: appends fail while it is down (unavailable) and nothing stored is lost; consumers go on by themselves', async () => {
      const log = await openLog(server);
      try {
        const seen = new Set<number>();
        const stop = log.consume('g', { batch: 16 }, async (batch) => {
          for (const n of numbers(batch)) seen.add(n);
        });
        const stored: number[] = [];
        let refused = 0;
        let n = 0;
        let running = true;
        const appender = (async () => {
          while (running) {
            n += 1;
            try {
              await log.append(records(n, n));
              stored.push(n);
            } catch (error) {
              assert.equal((error as { code?: string }).code, 'unavailable');
              refused += 1;
              n -= 1; // appended again until stored: its id makes a retry safe
              await new Promise((r) => setTimeout(r, 50));
            }
          }
        })();
        await new Promise((r) => setTimeout(r, 500));
        await server.restart({ hard: true, downMs: 1_500 });
        await new Promise((r) => setTimeout(r, 1_500));
        running = false;
        await appender;
        const deadline = Date.now() + 20_000;
        while (stored.some((x) => !seen.has(x)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        await stop();
        assert.ok(refused > 0, 'appends were refused while the server was down');
        assert.ok(stored.length > 10);
        const missing = stored.filter((x) => !seen.has(x));
        assert.deepEqual(missing, [], `every stored record reached the consumer (stored ${stored.length}, up to ${stored.at(-1)}; seen ${seen.size}; missing ${missing.length} from ${missing[0]} to ${missing.at(-1)}; errors: ${errors.slice(-3).join(' | ')})`);
      } finally {
        await log.close();
      }
    });
  });
}
