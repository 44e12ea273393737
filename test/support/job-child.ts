/**
 * A process that works one queue and never finishes a job: it prints `started <id> <attempt>`
 * for each run it takes, so a test can kill it mid-job (SIGKILL) and see the job run again
 * elsewhere. Env: PARLEY_TEST_JOBS (a JobBackendSpec as JSON), PARLEY_TEST_QUEUE,
 * PARLEY_TEST_VISIBILITY_MS.
 */
import { type JobBackendSpec, openJobBackend } from './job-backends.js';

const spec = JSON.parse(process.env.PARLEY_TEST_JOBS ?? '') as JobBackendSpec;
const queueName = process.env.PARLEY_TEST_QUEUE ?? '';
const visibilityTimeoutMs = Number(process.env.PARLEY_TEST_VISIBILITY_MS ?? '2000');
const errors: Array<{ error: unknown; context: string }> = [];
const opened = await openJobBackend(spec, errors);
await opened.queue.work(
  queueName,
  (job) => {
    process.stdout.write(`started ${job.id} ${job.attempt}\n`);
    return new Promise(() => undefined);
  },
  { concurrency: 1, visibilityTimeoutMs },
);
process.stdout.write('working\n');
setInterval(() => {
  for (const { error, context } of errors.splice(0)) process.stderr.write(`${context}: ${String(error)}\n`);
}, 200);
