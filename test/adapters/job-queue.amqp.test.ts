import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { jobQueueContract } from '../contracts/job-queue.contract.js';
import { declaredAmqpTopologies } from '../support/job-backends.js';
import { AMQP_URL, amqpPrefix, deleteTopologies, requireRabbitmq } from '../support/rabbitmq.js';

if (await requireRabbitmq('JobQueue contract')) {
  jobQueueContract('RabbitMQ (keys and schedules in SQLite)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-jobs-amqp-'));
    const prefix = amqpPrefix();
    return {
      spec: { kind: 'amqp', url: AMQP_URL, prefix, sqliteFile: path.join(dir, 'parley.db') },
      cleanup: async () => {
        await deleteTopologies(AMQP_URL, declaredAmqpTopologies(prefix));
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}
