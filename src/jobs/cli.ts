/**
 * `parley jobs …`: what an operator does with the job queues — see how deep each is, read the
 * dead letters, run one again once its cause is fixed, or delete them. Answers on stdout as
 * JSON lines (one object each), so the output pipes into jq.
 */
import { openStore } from '../app.js';
import type { Config } from '../config.js';
import type { Logger } from '../observability/log.js';
import { logFailure } from '../observability/outage-log.js';
import { NO_OBSERVER } from './observer.js';
import { openJobQueue } from './open-jobs.js';
import { QUEUES } from './slow-work.js';

const USAGE = 'usage: parley jobs counts | dead <queue> [limit] | retry <queue> <id> | purge <queue> [id]\n';

export async function runJobsCommand(args: string[], config: Config, log: Logger, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const [action, queue, arg] = args;
  if (action === undefined || !['counts', 'dead', 'retry', 'purge'].includes(action) || (action !== 'counts' && queue === undefined) || (action === 'retry' && arg === undefined)) {
    process.stderr.write(USAGE);
    return 2;
  }
  const store = await openStore(config, log);
  // This process only reads and repairs: it works nothing.
  const jobs = await openJobQueue(config, { store, observer: NO_OBSERVER, onError: (error, context) => logFailure(log, error, 'job backend error', { context }) });
  try {
    await store.migrate();
    switch (action) {
      case 'counts':
        for (const name of QUEUES) out(JSON.stringify({ queue: name, ...(await jobs.counts(name)) }));
        return 0;
      case 'dead': {
        const limit = arg === undefined ? 100 : Number(arg);
        if (!Number.isInteger(limit) || limit < 1) {
          process.stderr.write(USAGE);
          return 2;
        }
        for (const dead of await jobs.deadLetters(queue as string, limit)) {
          out(JSON.stringify({ ...dead, enqueuedAt: new Date(dead.enqueuedAt).toISOString(), failedAt: new Date(dead.failedAt).toISOString() }));
        }
        return 0;
      }
      case 'retry': {
        const retried = await jobs.retryDead(queue as string, arg as string);
        out(JSON.stringify({ queue, id: arg, retried }));
        return retried ? 0 : 1;
      }
      default: {
        const purged = await jobs.purgeDead(queue as string, arg);
        out(JSON.stringify({ queue, purged }));
        return 0;
      }
    }
  } finally {
    await jobs.close(0);
    await store.close();
  }
}
