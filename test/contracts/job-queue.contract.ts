/**
 * The JobQueue contract: what every job backend must do, run against each of them. Two queues
 * opened on one backend are two processes of one deployment; a child process is a worker that
 * is killed mid-job. Every test works queues of its own (a random name), so tests never see
 * each other's jobs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AppError } from '../../src/errors.js';
import { PermanentJobError } from '../../src/jobs/errors.js';
import type { Job, JobQueue } from '../../src/ports.js';
import { type BackgroundErrors, type JobBackendSpec, type OpenedJobQueue, openJobBackend } from '../support/job-backends.js';

export interface JobQueueFixture {
  /** The backend every queue of the test opens, in this process or a child. */
  spec: JobBackendSpec;
  cleanup(): Promise<void>;
}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), '../support/job-child.ts');
const queueName = () => `t-${randomBytes(6).toString('hex')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Records the runs a handler was given. */
function recorder() {
  const runs: Job[] = [];
  return {
    runs,
    payloads: () => runs.map((r) => r.payload),
    handler:
      (work: (job: Job) => Promise<void> | void = () => undefined) =>
      async (job: Job) => {
        runs.push(job);
        await work(job);
      },
  };
}

export function jobQueueContract(name: string, setup: () => Promise<JobQueueFixture>): void {
  describe(`JobQueue contract: ${name}`, () => {
    let fixture: JobQueueFixture;
    const opened: OpenedJobQueue[] = [];
    const errors: BackgroundErrors = [];
    /** A queue on the backend, as one more process would open it; closed after the suite. */
    const open = async (): Promise<JobQueue> => {
      const o = await openJobBackend(fixture.spec, errors);
      opened.push(o);
      return o.queue;
    };

    before(async () => {
      fixture = await setup();
    });
    after(async () => {
      await Promise.all(opened.map((o) => o.close(500)));
      await fixture.cleanup();
    });

    it('runs an enqueued job once with its payload, its first attempt and its key', async () => {
      const q = await open();
      const queue = queueName();
      const payload = { roomId: 'r1', text: 'héllo ✓', nested: { list: [1, 2, { deep: null }] } };
      const { id, created } = await q.enqueue(queue, payload, { key: 'k1', attempts: 3 });
      assert.equal(created, true);
      assert.equal((await q.counts(queue)).waiting, 1);
      const rec = recorder();
      await q.work(queue, rec.handler(), { concurrency: 1 });
      await until('the job ran', () => rec.runs.length === 1);
      const [run] = rec.runs;
      assert.equal(run?.id, id);
      assert.equal(run?.queue, queue);
      assert.deepEqual(run?.payload, payload);
      assert.equal(run?.key, 'k1');
      assert.equal(run?.attempt, 1);
      assert.equal(run?.attempts, 3);
      assert.ok(run !== undefined && Math.abs(run.enqueuedAt - Date.now()) < 60_000);
      await until('the job is no longer counted', async () => {
        const c = await q.counts(queue);
        return c.waiting + c.active + c.delayed + c.dead === 0;
      });
      await sleep(300);
      assert.equal(rec.runs.length, 1, 'a completed job does not run again');
    });

    it('starts jobs in the order they were enqueued (one worker, concurrency 1)', async () => {
      const q = await open();
      const queue = queueName();
      for (let i = 0; i < 30; i++) await q.enqueue(queue, { i });
      const rec = recorder();
      await q.work(queue, rec.handler(), { concurrency: 1 });
      await until('every job ran', () => rec.runs.length === 30);
      assert.deepEqual(
        rec.payloads().map((p) => p.i),
        Array.from({ length: 30 }, (_, i) => i),
      );
    });

    it('an idempotency key enqueues once, also when enqueues race, and still answers after the job completed', async () => {
      const q1 = await open();
      const q2 = await open();
      const queue = queueName();
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? q1 : q2).enqueue(queue, { i }, { key: 'once' })));
      assert.equal(results.filter((r) => r.created).length, 1, 'exactly one enqueue created the job');
      assert.equal(new Set(results.map((r) => r.id)).size, 1, 'every enqueue answered the same id');
      const rec = recorder();
      await q1.work(queue, rec.handler(), { concurrency: 2 });
      await until('the job ran', () => rec.runs.length === 1);
      await until('it completed', async () => (await q1.counts(queue)).active === 0);
      const again = await q2.enqueue(queue, { i: 99 }, { key: 'once' });
      assert.deepEqual(again, { id: results[0]?.id, created: false });
      // Another key is another job.
      await q2.enqueue(queue, { i: 100 }, { key: 'other' });
      await until('the other job ran', () => rec.runs.length === 2);
      await sleep(300);
      assert.deepEqual(
        rec.payloads().map((p) => p.i),
        [rec.payloads()[0]?.i, 100],
      );
    });

    it('a delayed job waits for its time and is counted as delayed meanwhile', async () => {
      const q = await open();
      const queue = queueName();
      const rec = recorder();
      await q.work(queue, rec.handler(), { concurrency: 1 });
      const enqueuedAt = Date.now();
      await q.enqueue(queue, { late: true }, { delayMs: 1_200 });
      await q.enqueue(queue, { late: false });
      await until('the immediate job ran', () => rec.runs.length >= 1);
      const counts = await q.counts(queue);
      assert.equal(counts.delayed, 1);
      assert.equal(counts.waiting, 0);
      await until('the delayed job ran', () => rec.runs.length === 2, 10_000);
      const ranAt = Date.now();
      assert.deepEqual(
        rec.payloads().map((p) => p.late),
        [false, true],
      );
      assert.ok(ranAt - enqueuedAt >= 1_150, `the delayed job ran ${ranAt - enqueuedAt} ms after it was enqueued`);
    });

    it('a failing job is retried with its attempt number until it succeeds', async () => {
      const q = await open();
      const queue = queueName();
      const rec = recorder();
      await q.work(
        queue,
        rec.handler((job) => {
          if (job.attempt < 3) throw new Error(`failure ${job.attempt}`);
        }),
        { concurrency: 1 },
      );
      await q.enqueue(queue, { x: 1 }, { attempts: 4, backoff: { baseMs: 20, maxMs: 100 } });
      await until('the third attempt ran', () => rec.runs.length === 3);
      await until('it completed', async () => {
        const c = await q.counts(queue);
        return c.waiting + c.delayed + c.active === 0;
      });
      assert.deepEqual(
        rec.runs.map((r) => r.attempt),
        [1, 2, 3],
      );
      assert.equal(new Set(rec.runs.map((r) => r.id)).size, 1);
      assert.equal((await q.counts(queue)).dead, 0);
      assert.deepEqual(await q.deadLetters(queue, 10), []);
    });

    it('backoff waits grow with attempts, within exponential bounds (full jitter: each between 0 and its cap)', async () => {
      const q = await open();
      const queue = queueName();
      const startedAt: number[] = [];
      await q.work(
        queue,
        async () => {
          startedAt.push(Date.now());
          throw new Error('always');
        },
        { concurrency: 1 },
      );
      await q.enqueue(queue, {}, { attempts: 4, backoff: { baseMs: 400, maxMs: 1_000 } });
      await until('four attempts ran', () => startedAt.length === 4, 15_000);
      const waits = startedAt.slice(1).map((t, i) => t - (startedAt[i] ?? 0));
      // Caps 400, 800, 1000 ms; polling and scheduling may add a little, never more than a second.
      const caps = [400, 800, 1_000];
      for (const [i, wait] of waits.entries()) assert.ok(wait <= (caps[i] ?? 0) + 1_000, `wait ${i + 1} was ${wait} ms (cap ${caps[i]})`);
    });

    it('a job out of attempts is dead, listed with its last error; retrying it runs it again; purging deletes it', async () => {
      const q = await open();
      const other = await open();
      const queue = queueName();
      let healthy = false;
      const rec = recorder();
      await q.work(
        queue,
        rec.handler((job) => {
          if (!healthy) throw new Error(`endpoint down (attempt ${job.attempt})`);
        }),
        { concurrency: 1 },
      );
      const { id } = await q.enqueue(queue, { n: 1 }, { attempts: 2, backoff: { baseMs: 10, maxMs: 20 }, key: 'dl' });
      await until('it is dead', async () => (await q.counts(queue)).dead === 1);
      // Seen from another process too.
      const dead = await other.deadLetters(queue, 10);
      assert.equal(dead.length, 1);
      assert.equal(dead[0]?.id, id);
      assert.deepEqual(dead[0]?.payload, { n: 1 });
      assert.equal(dead[0]?.key, 'dl');
      assert.equal(dead[0]?.attempts, 2);
      assert.match(dead[0]?.error ?? '', /endpoint down \(attempt 2\)/);
      assert.ok((dead[0]?.failedAt ?? 0) >= (dead[0]?.enqueuedAt ?? Number.POSITIVE_INFINITY));
      // A dead job keeps its key.
      assert.deepEqual(await q.enqueue(queue, { n: 2 }, { key: 'dl' }), { id, created: false });
      assert.equal(rec.runs.length, 2);

      healthy = true;
      assert.equal(await other.retryDead(queue, id), true);
      await until('the retried job ran', () => rec.runs.length === 3);
      assert.equal(rec.runs[2]?.attempt, 1, 'a retried job has its attempts renewed');
      await until('nothing is dead', async () => (await q.counts(queue)).dead === 0);
      assert.equal(await other.retryDead(queue, id), false, 'no such dead job any more');
      assert.equal(await other.retryDead(queue, 'no-such-job'), false);

      healthy = false;
      await q.enqueue(queue, { n: 3 }, { attempts: 1, key: 'p3' });
      await q.enqueue(queue, { n: 4 }, { attempts: 1, key: 'p4' });
      await until('two are dead', async () => (await q.counts(queue)).dead === 2);
      const [first] = await q.deadLetters(queue, 10);
      assert.equal(await other.purgeDead(queue, first?.id), 1);
      assert.equal((await q.deadLetters(queue, 10)).length, 1);
      assert.equal(await other.purgeDead(queue), 1);
      assert.deepEqual(await q.deadLetters(queue, 10), []);
      // Purged jobs give their keys up, by id or with the rest (the new jobs wait: they must not die again here).
      for (const key of ['p3', 'p4']) assert.equal((await q.enqueue(queue, { n: 5 }, { key, delayMs: 60_000 })).created, true, `the key ${key} was given up`);
    });

    it('a PermanentJobError makes the job dead at once', async () => {
      const q = await open();
      const queue = queueName();
      const rec = recorder();
      await q.work(
        queue,
        rec.handler(() => {
          throw new PermanentJobError('the room is gone');
        }),
        { concurrency: 1 },
      );
      await q.enqueue(queue, {}, { attempts: 5, backoff: { baseMs: 10, maxMs: 10 } });
      await until('it is dead', async () => (await q.counts(queue)).dead === 1);
      assert.equal(rec.runs.length, 1);
      assert.match((await q.deadLetters(queue, 1))[0]?.error ?? '', /the room is gone/);
    });

    it('never runs more jobs of a queue at once than its concurrency, and fills it', async () => {
      const q = await open();
      const queue = queueName();
      let running = 0;
      let most = 0;
      let finished = 0;
      await q.work(
        queue,
        async () => {
          running++;
          most = Math.max(most, running);
          await sleep(150);
          running--;
          finished++;
        },
        { concurrency: 3 },
      );
      for (let i = 0; i < 12; i++) await q.enqueue(queue, { i });
      await until('all ran', () => finished === 12, 20_000);
      assert.equal(most, 3);
    });

    it('two processes working one queue run each job once between them', async () => {
      const q1 = await open();
      const q2 = await open();
      const queue = queueName();
      const seen = new Map<number, number>();
      const by = { q1: 0, q2: 0 };
      const handler = (who: 'q1' | 'q2') => async (job: Job) => {
        by[who]++;
        const i = job.payload.i as number;
        seen.set(i, (seen.get(i) ?? 0) + 1);
        await sleep(5);
      };
      await q1.work(queue, handler('q1'), { concurrency: 2 });
      await q2.work(queue, handler('q2'), { concurrency: 2 });
      await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? q1 : q2).enqueue(queue, { i })));
      await until('every job ran', () => seen.size === 60, 20_000);
      await sleep(300);
      assert.deepEqual(
        [...seen.values()].filter((n) => n !== 1),
        [],
        'no job ran twice',
      );
      assert.ok(by.q1 > 0 && by.q2 > 0, `both processes worked (${by.q1}, ${by.q2})`);
    });

    /** A child process takes job `id` of `queue` (lease 1.5 s) and is killed (SIGKILL) mid-run. */
    const killMidRun = async (queue: string, id: string): Promise<void> => {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
        env: { ...process.env, PARLEY_TEST_JOBS: JSON.stringify(fixture.spec), PARLEY_TEST_QUEUE: queue, PARLEY_TEST_VISIBILITY_MS: '1500' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        err += chunk.toString();
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      try {
        await until('the child took the job', () => out.includes(`started ${id} 1`), 30_000).catch((error: unknown) => {
          throw new Error(`${(error as Error).message}; child stderr: ${err}`);
        });
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
    };

    it('a job whose worker is killed mid-run (SIGKILL) runs again elsewhere', async () => {
      const queue = queueName();
      const q = await open();
      const { id } = await q.enqueue(queue, { precious: true }, { attempts: 3 });
      await killMidRun(queue, id);
      const rec = recorder();
      await q.work(queue, rec.handler(), { concurrency: 1, visibilityTimeoutMs: 1_500 });
      await until('the job ran again', () => rec.runs.length === 1, 20_000);
      assert.equal(rec.runs[0]?.id, id);
      assert.deepEqual(rec.runs[0]?.payload, { precious: true });
      assert.ok((rec.runs[0]?.attempt ?? 0) >= 1);
      await until('it completed', async () => {
        const c = await q.counts(queue);
        return c.waiting + c.delayed + c.active + c.dead === 0;
      });
    });

    it('a run lost with its worker is a run made: lost on its last attempt, the job is dead, not run again; retrying it renews its attempts', async () => {
      const queue = queueName();
      const q = await open();
      const { id } = await q.enqueue(queue, { last: true }, { attempts: 1 });
      await killMidRun(queue, id);
      const rec = recorder();
      await q.work(queue, rec.handler(), { concurrency: 1, visibilityTimeoutMs: 1_500 });
      await until('it is dead', async () => (await q.counts(queue)).dead === 1, 20_000);
      assert.equal(rec.runs.length, 0, 'it did not run again');
      const [dead] = await q.deadLetters(queue, 10);
      assert.equal(dead?.id, id);
      assert.equal(dead?.attempts, 1);
      assert.deepEqual(dead?.payload, { last: true });
      assert.equal(await q.retryDead(queue, id), true);
      await until('the retried job ran', () => rec.runs.length === 1);
      assert.equal(rec.runs[0]?.attempt, 1, 'the lost run is no longer counted');
      await until('it completed', async () => {
        const c = await q.counts(queue);
        return c.waiting + c.delayed + c.active + c.dead === 0;
      });
    });

    it('a run longer than its visibility timeout keeps its job: it is not run twice', async () => {
      const q1 = await open();
      const q2 = await open();
      const queue = queueName();
      const rec = recorder();
      const slow = rec.handler(async () => {
        await sleep(3_000);
      });
      await q1.work(queue, slow, { concurrency: 1, visibilityTimeoutMs: 1_000 });
      await q2.work(queue, slow, { concurrency: 1, visibilityTimeoutMs: 1_000 });
      await q1.enqueue(queue, {});
      await until('it ran', () => rec.runs.length === 1);
      await until('it completed', async () => (await q1.counts(queue)).active === 0, 15_000);
      await sleep(500);
      assert.equal(rec.runs.length, 1);
    });

    it('a repeatable job runs once per period across processes, and a new period replaces the old', async () => {
      const q1 = await open();
      const q2 = await open();
      const queue = queueName();
      const rec = recorder();
      await q1.work(queue, rec.handler(), { concurrency: 2 });
      await q2.work(queue, rec.handler(), { concurrency: 2 });
      const startedAt = Date.now();
      await Promise.all([q1.repeat(queue, 'tick', 500, { what: 'tick' }), q2.repeat(queue, 'tick', 500, { what: 'tick' })]);
      await sleep(2_600);
      const periods = (Date.now() - startedAt) / 500;
      const first = rec.runs.length;
      assert.ok(first >= 3 && first <= Math.ceil(periods) + 1, `${first} runs in ${periods.toFixed(1)} periods`);
      assert.ok(rec.runs.every((r) => r.payload.what === 'tick'));
      // Every process may call it again: the schedule is replaced, not doubled.
      await Promise.all([q1.repeat(queue, 'tick', 60_000, { what: 'slow' }), q2.repeat(queue, 'tick', 60_000, { what: 'slow' })]);
      await sleep(700);
      const settled = rec.runs.length;
      await sleep(1_500);
      assert.ok(rec.runs.length - settled <= 1, `${rec.runs.length - settled} runs after the period became a minute`);
    });

    it('close lets running jobs finish within its grace, and gives back those that do not: they run again elsewhere', async () => {
      const closing = await openJobBackend(fixture.spec, errors);
      const q2 = await open();
      const queue = queueName();
      let aborted = 0;
      let finished = 0;
      const started: string[] = [];
      await closing.queue.work(
        queue,
        async (job) => {
          started.push(job.id);
          if (job.payload.quick === true) {
            await sleep(100);
            finished++;
            return;
          }
          await new Promise<void>((resolve) => {
            job.signal.addEventListener('abort', () => {
              aborted++;
              resolve();
            });
          });
        },
        { concurrency: 2, visibilityTimeoutMs: 2_000 },
      );
      const quick = await closing.queue.enqueue(queue, { quick: true });
      const stuck = await closing.queue.enqueue(queue, { quick: false });
      await until('both started', () => started.length === 2);
      await closing.close(600);
      assert.equal(finished, 1, 'the quick job finished within the grace');
      assert.equal(aborted, 1, 'the stuck job was aborted');
      const rec = recorder();
      await q2.work(queue, rec.handler(), { concurrency: 1, visibilityTimeoutMs: 2_000 });
      await until('the stuck job ran again', () => rec.runs.length === 1, 15_000);
      assert.equal(rec.runs[0]?.id, stuck.id);
      await sleep(300);
      assert.ok(!rec.runs.some((r) => r.id === quick.id), 'the finished job did not run again');
    });

    it('refuses bad queue names, payloads and options with validation_failed', async () => {
      const q = await open();
      const bad = (p: Promise<unknown>) => assert.rejects(p, (e: unknown) => e instanceof AppError && e.code === 'validation_failed');
      await bad(q.enqueue('Bad Name', {}));
      await bad(q.enqueue('', {}));
      await bad(q.enqueue(queueName(), [] as unknown as Record<string, unknown>));
      await bad(q.enqueue(queueName(), { big: 'x'.repeat(70_000) }));
      await bad(q.enqueue(queueName(), {}, { attempts: 0 }));
      await bad(q.enqueue(queueName(), {}, { delayMs: -1 }));
      await bad(q.enqueue(queueName(), {}, { key: '' }));
      await bad(q.enqueue(queueName(), {}, { backoff: { baseMs: 10, maxMs: 5 } }));
      await bad(q.repeat(queueName(), 'r', 5, {}));
    });

    it('raised nothing in the background', () => {
      assert.deepEqual(
        errors.map((e) => `${e.context}: ${String(e.error)}`),
        [],
      );
    });
  });
}
