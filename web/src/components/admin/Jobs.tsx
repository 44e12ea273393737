/**
 * The job queues: each one's jobs waiting, delayed, running and dead; for a queue with dead jobs,
 * those jobs with their last error, each of which can be run again or deleted, or all at once
 * deleted. Read again on demand and after every change made from this page.
 */
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import type { AdminDeadJob as DeadJob, AdminQueueCounts as QueueCounts } from '../../../../client/index.js';
import { describeError, formatDateTime } from '../../format.js';
import { type AdminContext, type Outcome, OutcomeLines, useOutcome } from './shared.js';

/** Dead jobs listed per queue. */
const DEAD_LIMIT = 100;
/** A job's payload is shown up to this many characters. */
const PAYLOAD_CHARS = 200;

export function Jobs({ context }: { context: AdminContext }) {
  const queues = useSignal<QueueCounts[] | null>(null);
  const error = useSignal('');
  const outcome = useOutcome();
  const request = useRef(0);
  /** Counts read so far: each reading reads the dead jobs again too (a job may have died again under the same count). */
  const readings = useSignal(0);
  const changes = context.changes.value;

  const read = () => {
    const mine = ++request.current;
    context.api.jobCounts().then(
      (counts) => {
        if (mine !== request.current) return;
        queues.value = counts;
        readings.value++;
        error.value = '';
      },
      (e: unknown) => {
        if (mine === request.current) error.value = `The queues could not be loaded: ${describeError(e)}`;
      },
    );
  };
  useEffect(() => {
    read();
    return () => {
      request.current++;
    };
  }, [changes]);

  const list = queues.value;
  return (
    <section class="admin-section" aria-labelledby="admin-jobs-title" data-testid="admin-jobs">
      <div class="admin-section-head">
        <h3 id="admin-jobs-title">Jobs</h3>
        <button type="button" class="secondary small" onClick={read} data-testid="admin-jobs-refresh">
          Refresh
        </button>
      </div>
      <p class="error" role="alert">
        {error.value}
      </p>
      <OutcomeLines outcome={outcome} testId="admin-jobs" />
      {list === null && error.value === '' && <p class="hint">Loading…</p>}
      {list?.length === 0 && <p class="hint">No job queue.</p>}
      {list !== null && list.length > 0 && (
        <div class="table-wrap">
          <table class="admin-table">
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col" class="num">
                  Waiting
                </th>
                <th scope="col" class="num">
                  Delayed
                </th>
                <th scope="col" class="num">
                  Running
                </th>
                <th scope="col" class="num">
                  Dead
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((q) => (
                <tr key={q.queue} data-testid="admin-queue" data-queue={q.queue}>
                  <td class="cell-main">{q.queue}</td>
                  <td class="num">{q.waiting}</td>
                  <td class="num">{q.delayed}</td>
                  <td class="num">{q.active}</td>
                  <td class="num" data-testid="admin-queue-dead">
                    {q.dead}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list
        ?.filter((q) => q.dead > 0)
        .map((q) => (
          <DeadJobs key={q.queue} context={context} queue={q.queue} reading={readings.value} outcome={outcome} />
        ))}
    </section>
  );
}

function DeadJobs({ context, queue, reading, outcome }: { context: AdminContext; queue: string; reading: number; outcome: Outcome }) {
  const { api } = context;
  const jobs = useSignal<DeadJob[] | null>(null);
  const error = useSignal('');
  const busy = useSignal(false);

  // Read again with every reading of the counts (on demand, and after every change from this page).
  useEffect(() => {
    let current = true;
    api.deadJobs(queue, DEAD_LIMIT).then(
      (list) => {
        if (!current) return;
        jobs.value = list;
        error.value = '';
      },
      (e: unknown) => {
        if (current) error.value = `The dead jobs of ${queue} could not be loaded: ${describeError(e)}`;
      },
    );
    return () => {
      current = false;
    };
  }, [queue, reading]);

  const act = (action: () => Promise<string>) => {
    busy.value = true;
    void outcome
      .run(async () => {
        const done = await action();
        context.changed();
        return done;
      })
      .finally(() => {
        busy.value = false;
      });
  };
  const retry = (job: DeadJob) =>
    act(async () => {
      await api.retryDeadJob(queue, job.id);
      return `Job ${job.id} of ${queue} runs again.`;
    });
  const purge = (job: DeadJob) =>
    act(async () => {
      const purged = await api.purgeDeadJobs(queue, job.id);
      return purged === 0 ? `Job ${job.id} of ${queue} was already gone.` : `Job ${job.id} of ${queue} was deleted.`;
    });
  const purgeAll = () =>
    context.ask(`Delete every dead job of ${queue}? They cannot be run again.`, 'Delete all', async () => {
      const purged = await api.purgeDeadJobs(queue);
      context.changed();
      outcome.error.value = '';
      outcome.status.value = `${purged === 1 ? '1 dead job' : `${purged} dead jobs`} of ${queue} deleted.`;
    });

  const list = jobs.value;
  return (
    <div class="admin-dead" data-testid="admin-dead-jobs" data-queue={queue}>
      <div class="admin-section-head">
        <h4>
          Dead jobs of <code>{queue}</code>
        </h4>
        <button type="button" class="secondary small danger" disabled={busy.value} onClick={purgeAll} data-testid="admin-dead-purge-all">
          Delete all dead
        </button>
      </div>
      <p class="error" role="alert">
        {error.value}
      </p>
      {list === null && error.value === '' && <p class="hint">Loading…</p>}
      {list !== null && (
        <ul class="admin-dead-list">
          {list.map((job) => (
            <li key={job.id} class="admin-dead-job" data-testid="admin-dead-job" data-job-id={job.id}>
              <span class="cell-main">
                <code>{job.id}</code> · {job.attempts === 1 ? '1 attempt' : `${job.attempts} attempts`} · failed {formatDateTime(job.failedAt)}
              </span>
              <span class="error" data-testid="admin-dead-job-error">
                {job.error}
              </span>
              <code class="hint admin-payload">{payloadText(job.payload)}</code>
              <span class="admin-actions">
                <button type="button" class="secondary small" disabled={busy.value} onClick={() => retry(job)} data-testid="admin-dead-retry">
                  Retry
                </button>
                <button type="button" class="secondary small danger" disabled={busy.value} onClick={() => purge(job)} data-testid="admin-dead-delete">
                  Delete
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function payloadText(payload: unknown): string {
  const text = JSON.stringify(payload) ?? 'no payload';
  return text.length > PAYLOAD_CHARS ? `${text.slice(0, PAYLOAD_CHARS)}…` : text;
}
