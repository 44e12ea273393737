/**
 * RabbitMQ lost under a working job queue, with jobs waiting, delayed, retrying and running
 * when the connection goes: nothing enqueued is lost; nothing takes effect twice beyond the
 * at-least-once redelivery of the runs in flight (at most the concurrency; the handler is
 * idempotent, as real handlers must be); enqueues meanwhile are answered `unavailable`, and
 * promptly once the loss is known; the queue reconnects and goes on by itself; nothing is left
 * unhandled.
 *
 * Three ways to lose it: the socket reset and new connections refused for a while (a TCP proxy
 * between the queue and the broker), the connection gone silent (heartbeats find it), and the
 * broker closing it (rabbitmqctl close_connection: 320 CONNECTION_FORCED), where rabbitmqctl
 * can reach the broker.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { AmqpJobQueue } from '../../src/adapters/amqp/job-queue.js';
import { openThreadedSqliteStore } from '../../src/adapters/sql/sqlite-thread.js';
import { AppError } from '../../src/errors.js';
import type { Job } from '../../src/ports.js';
import { BlackholeProxy } from '../support/proxy.js';
import { AMQP_URL, amqpPrefix, deleteTopologies, requireRabbitmq } from '../support/rabbitmq.js';
import { recordUncaught } from '../support/uncaught.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const CONCURRENCY = 2;
const CALL_TIMEOUT_MS = 1_500;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

const isUnavailable = (e: unknown) => e instanceof AppError && e.code === 'unavailable';

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

/** The broker-side pid of the connection named `name`, or null when rabbitmqctl cannot tell. */
async function brokerConnection(name: string): Promise<string | null> {
  try {
    const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', 'pid', 'client_properties'], { timeout: 15_000 });
    const line = stdout.split('\n').find((l) => l.includes(name));
    return line?.split('\t')[0] ?? null;
  } catch {
    return null;
  }
}

interface Outage {
  /** Loses the connection. */
  lose(ctx: { proxy: BlackholeProxy; name: string }): Promise<void>;
  /** Lets it come back (when it does not by itself). */
  restore?(ctx: { proxy: BlackholeProxy }): void;
  /** How long it stays lost, ms. */
  downMs: number;
  /** What an enqueue made right after the loss gets: `unavailable` at once (the loss is known), or after the call timeout (it is not yet). */
  enqueueDuring: 'prompt' | 'timeout' | 'unchecked';
}

async function scenario(outage: Outage): Promise<void> {
  const uncaught = recordUncaught();
  const target = new URL(AMQP_URL);
  const proxy = await BlackholeProxy.start(Number(target.port || 5672));
  const url = new URL(AMQP_URL);
  url.hostname = '127.0.0.1';
  url.port = String(proxy.port);
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-faults-amqp-'));
  const store = openThreadedSqliteStore(path.join(dir, 'parley.db'), { maxQueued: 10_000, searchStallMs: 30_000 });
  await store.migrate();
  const errors: string[] = [];
  const lost: unknown[] = [];
  let restored = 0;
  const name = `parley-fault-${randomBytes(4).toString('hex')}`;
  const q = new AmqpJobQueue(store, {
    url: url.toString(),
    prefix: amqpPrefix(),
    connectionName: name,
    callTimeoutMs: CALL_TIMEOUT_MS,
    heartbeatSeconds: 1,
    reconnect: { baseMs: 100, maxMs: 400 },
    pollMs: 100,
    onError: (error, context) => errors.push(`${context}: ${String(error)}`),
    monitor: { lost: (error) => lost.push(error), restored: () => restored++ },
  });
  const queue = 'faults';
  try {
    await q.ready();
    const started = new Map<string, number>();
    /** Times a run of the job reached its effect. */
    const effects = new Map<string, number>();
    /** The effect itself, idempotent: applied once per job whatever the runs. */
    const applied = new Set<string>();
    await q.work(
      queue,
      async (job: Job) => {
        started.set(job.id, (started.get(job.id) ?? 0) + 1);
        await abortableSleep(60, job.signal);
        if (job.payload.failOnce === true && job.attempt === 1) throw new Error('transient failure');
        effects.set(job.id, (effects.get(job.id) ?? 0) + 1);
        applied.add(job.id);
      },
      { concurrency: CONCURRENCY },
    );
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push((await q.enqueue(queue, { i })).id);
    // In their buckets when the connection goes, and back in the work queue while it is gone.
    for (let i = 0; i < 5; i++) ids.push((await q.enqueue(queue, { delayed: i }, { delayMs: 1_200 + 100 * i })).id);
    for (let i = 0; i < 5; i++) ids.push((await q.enqueue(queue, { failOnce: true, i }, { backoff: { baseMs: 1_500, maxMs: 1_500 } })).id);
    await until('some jobs took effect', () => applied.size >= 6);

    const lostBefore = lost.length;
    await outage.lose({ proxy, name });
    if (outage.enqueueDuring !== 'unchecked') {
      if (outage.enqueueDuring === 'prompt') await until('the loss is known', () => lost.length > lostBefore, 5_000);
      const t0 = Date.now();
      // With a key: a claim whose publish fails must not hold the key.
      await assert.rejects(q.enqueue(queue, { during: true }, { key: 'during' }), isUnavailable);
      const took = Date.now() - t0;
      const bound = outage.enqueueDuring === 'prompt' ? 300 : CALL_TIMEOUT_MS + 1_000;
      assert.ok(took <= bound, `an enqueue during the outage took ${took} ms to be refused (at most ${bound})`);
      await assert.rejects(q.counts(queue), isUnavailable);
    }
    await sleep(outage.downMs);
    outage.restore?.({ proxy });

    await until('it reconnected by itself', () => restored >= 2);
    await until('every job took effect', () => ids.every((id) => applied.has(id)), 30_000);
    const during = await q.enqueue(queue, { during: true }, { key: 'during' });
    assert.equal(during.created, true, 'the key of the refused enqueue was free');
    await until('the job enqueued after took effect', () => applied.has(during.id));
    await until('nothing is left', async () => {
      const c = await q.counts(queue);
      return c.waiting + c.delayed + c.active + c.dead === 0;
    });
    await sleep(300);

    assert.ok(lost.length > lostBefore, 'the monitor was told of the loss');
    const twice = [...effects].filter(([, n]) => n > 1);
    assert.ok(twice.length <= CONCURRENCY, `${twice.length} jobs took effect more than once: only those in flight may`);
    assert.ok(
      twice.every(([, n]) => n === 2),
      'a job in flight runs again once',
    );
    assert.deepEqual(
      [...started.keys()].filter((id) => !ids.includes(id) && id !== during.id),
      [],
      'no job came from nowhere',
    );
    assert.deepEqual(errors, [], 'outages go to the monitor, not the error log');
    assert.deepEqual(uncaught.errors, []);
  } finally {
    await q.close(500);
    await store.close();
    await proxy.stop();
    await deleteTopologies(AMQP_URL, q.declaredQueues());
    rmSync(dir, { recursive: true, force: true });
    uncaught.stop();
  }
}

if (await requireRabbitmq('jobs through a RabbitMQ outage')) {
  describe('jobs through a RabbitMQ outage', () => {
    it('the connection reset and refused for 1.5 s', () =>
      scenario({
        lose: async ({ proxy }) => {
          proxy.cut();
        },
        restore: ({ proxy }) => proxy.restore(),
        downMs: 1_500,
        enqueueDuring: 'prompt',
      }));

    it('the connection gone silent (found by heartbeats)', () =>
      scenario({
        lose: async ({ proxy }) => {
          proxy.blackhole();
        },
        downMs: 0,
        enqueueDuring: 'timeout',
      }));

    it('the broker closing the connection (rabbitmqctl close_connection)', async (t) => {
      const reachable = await run('rabbitmqctl', ['-q', 'status'], { timeout: 15_000 }).then(
        () => true,
        () => false,
      );
      if (!reachable) {
        t.skip('rabbitmqctl cannot reach the broker here');
        return;
      }
      await scenario({
        lose: async ({ name }) => {
          const pid = await brokerConnection(name);
          assert.ok(pid !== null, `the broker lists the connection ${name}`);
          await run('rabbitmqctl', ['-q', 'close_connection', pid, 'fault test'], { timeout: 15_000 });
        },
        downMs: 0,
        enqueueDuring: 'unchecked',
      });
    });
  });
}
