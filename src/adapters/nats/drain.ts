import type { NatsConnection } from '@nats-io/transport-node';

/**
 * Drains a NATS connection (flushes what was published and waits for the server), bounded: past
 * `timeoutMs` it is closed outright, since a server that is gone would hold a drain until it
 * came back.
 */
export async function drainWithin(nc: NatsConnection, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const drained = nc.drain().then(
    () => true,
    () => false,
  );
  const inTime = await Promise.race([drained, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))]);
  clearTimeout(timer);
  if (!inTime && !nc.isClosed()) await nc.close();
}
