/**
 * Dead jobs on BullMQ: its "failed" jobs, out of attempts or failed permanently. They are kept
 * (removeOnFail: false) until an operator retries or purges them: they are the dead-letter list,
 * so their number is bounded only by what fails; watch `counts().dead`.
 */
import type { Queue } from 'bullmq';
import type { DeadJob } from '../../ports.js';
import { type BullJobData, tryDecodeJobData } from './job-data.js';

export type BullQueue = Queue<BullJobData, void, string>;

/** Oldest failure first (BullMQ's failed set is ordered by the time each failed). */
export async function listDead(q: BullQueue, queue: string, limit: number): Promise<DeadJob[]> {
  const jobs = await q.getJobs(['failed'], 0, limit - 1, true);
  return jobs.map((job): DeadJob => {
    const decoded = tryDecodeJobData(job.data);
    const data = 'error' in decoded ? { payload: {}, key: null } : decoded;
    const stalled = job.stalledCounter;
    return {
      id: job.id as string,
      queue,
      payload: data.payload,
      key: data.key ?? (job.repeatJobKey !== undefined ? (job.id as string) : null),
      // Failed runs and lost ones; a job dead because its last attempt was lost has one failure
      // more than runs (the pick-up that found it out of attempts).
      attempts: Math.min(job.attemptsMade + stalled, job.opts.attempts ?? 1),
      error: job.failedReason ?? '',
      enqueuedAt: job.timestamp,
      failedAt: job.finishedOn ?? job.timestamp,
    };
  });
}

/** Renews its attempts (BullMQ's counts of failed and started runs, and Parley's of lost ones) and makes it waiting. */
export async function retryDead(q: BullQueue, hdel: (key: string, ...fields: string[]) => Promise<number>, id: string): Promise<boolean> {
  const job = await q.getJob(id);
  if (job === undefined || (await q.getJobState(id)) !== 'failed') return false;
  // A failed job is nobody's to touch but an operator's: resetting these before BullMQ moves it
  // races with nothing but another operator.
  await hdel(q.toKey(id), 'stc', 'defa');
  try {
    await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    return true;
  } catch (error) {
    // Gone, or no longer failed: another operator was first.
    const code = (error as { code?: unknown }).code;
    if (code === -1 || code === -3) return false;
    throw error;
  }
}

export async function purgeDead(q: BullQueue, id?: string): Promise<number> {
  if (id === undefined) return (await q.clean(0, 0, 'failed')).length;
  if ((await q.getJobState(id)) !== 'failed') return 0;
  return (await q.remove(id)) === 1 ? 1 : 0;
}
