/**
 * The shared RabbitMQ for tests (PARLEY_TEST_AMQP_URL, default the local one). Each suite gets
 * its own queue-name prefix, so tests never see each other's queues, and deletes its queues
 * after. Without RabbitMQ, suites skip on a developer's machine and fail in CI.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import amqp from 'amqplib';
import { deleteTopology, type QueueTopology } from '../../src/adapters/amqp/topology.js';

export const AMQP_URL = process.env.PARLEY_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

let available: Promise<string | null> | undefined;

function unavailableReason(): Promise<string | null> {
  available ??= (async () => {
    try {
      const connection = await amqp.connect(AMQP_URL, { timeout: 2_000 });
      connection.on('error', () => undefined);
      await connection.close();
      return null;
    } catch (error) {
      return `RabbitMQ at ${AMQP_URL} is not reachable (${(error as Error).message})`;
    }
  })();
  return available;
}

export async function requireRabbitmq(suite: string): Promise<boolean> {
  const reason = await unavailableReason();
  if (reason === null) return true;
  if (process.env.CI === 'true') {
    test(`${suite}: RabbitMQ is required in CI`, () => {
      throw new Error(reason);
    });
  } else {
    test(`${suite} (RabbitMQ)`, (t) => t.skip(`${reason}; set PARLEY_TEST_AMQP_URL to run it`));
  }
  return false;
}

/** A prefix no other test uses. */
export const amqpPrefix = (): string => `parley-test-${randomBytes(5).toString('hex')}.`;

/** Deletes the queues of these topologies, with their messages. */
export async function deleteTopologies(url: string, topologies: Iterable<QueueTopology>): Promise<void> {
  const connection = await amqp.connect(url, { timeout: 5_000 });
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    for (const t of topologies) await deleteTopology(channel, t);
  } finally {
    await connection.close().catch(() => undefined);
  }
}
