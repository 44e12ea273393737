/**
 * How many events one bus carries: node A publishes event-sized payloads on many room
 * channels as fast as the bus accepts them (in windows, so the publisher never runs away);
 * node B, subscribed to every channel, counts what arrives.
 *
 *   npx tsx bench/bus-throughput.ts [redis|redis-cluster|nats] [--messages 200000] [--channels 100] [--bytes 400]
 *
 * Needs redis-server or nats-server installed; starts a private one on a free port
 * (redis-cluster: a Redis Cluster of three masters with a replica each, sharded pub/sub; the
 * output adds how many events each master carried).
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { NatsBus } from '../src/adapters/nats/bus.js';
import { Redis } from 'ioredis';
import { RedisBus } from '../src/adapters/redis/bus.js';
import { RedisClusterBus } from '../src/adapters/redis/cluster-bus.js';
import type { Bus, Channel } from '../src/ports.js';
import { startRedisCluster } from '../test/support/redis-cluster.js';
import { startNats, startRedis } from '../test/support/services.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { messages: { type: 'string', default: '200000' }, channels: { type: 'string', default: '100' }, bytes: { type: 'string', default: '400' } },
});
const kind = positionals[0] ?? 'redis';
const total = Number(values.messages);
const channelCount = Number(values.channels);
const payload = JSON.stringify({ type: 'event', body: 'x'.repeat(Math.max(0, Number(values.bytes) - 40)) });

const onError = (error: unknown, context: string) => console.error(context, error);
const server = kind === 'nats' ? await startNats() : kind === 'redis-cluster' ? await startRedisCluster() : await startRedis();
const open = (): Promise<Bus> =>
  kind === 'nats'
    ? NatsBus.connect({ url: server.url, onError })
    : kind === 'redis-cluster'
      ? RedisClusterBus.connect({ url: server.url, onError })
      : RedisBus.connect({ url: server.url, onError });
/** SPUBLISHes each master has taken so far (redis-cluster only). */
async function publishesPerMaster(): Promise<Record<string, number>> {
  if (kind !== 'redis-cluster' || !('masters' in server)) return {};
  const out: Record<string, number> = {};
  for (const port of await server.masters()) {
    const node = new Redis(port, '127.0.0.1');
    const stats = String(await node.info('commandstats'));
    node.disconnect();
    out[String(port)] = Number(/cmdstat_spublish:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  }
  return out;
}
const [a, b] = [await open(), await open()];
try {
  const channels = Array.from({ length: channelCount }, (_, i): Channel => `room:bench${i}`);
  let received = 0;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  for (const c of channels) {
    await b.subscribe(c, () => {
      if (++received === total) resolveDone();
    });
  }
  const started = performance.now();
  const WINDOW = 2_000;
  for (let sent = 0; sent < total; ) {
    const batch: Array<Promise<void>> = [];
    for (let i = 0; i < WINDOW && sent < total; i++, sent++) batch.push(a.publish(channels[sent % channelCount] as Channel, payload));
    await Promise.all(batch);
    // Let the subscriber keep up: never more than a few windows in flight.
    while (sent - received > WINDOW * 5) await new Promise((r) => setImmediate(r));
  }
  const published = performance.now();
  await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`received ${received} of ${total}`)), 60_000))]);
  const ms = performance.now() - started;
  console.log(
    JSON.stringify({
      bus: kind,
      messages: total,
      channels: channelCount,
      payloadBytes: payload.length,
      seconds: +(ms / 1000).toFixed(2),
      messagesPerSecond: Math.round(total / (ms / 1000)),
      megabytesPerSecond: +((total * payload.length) / (ms / 1000) / 1e6).toFixed(1),
      publishSeconds: +((published - started) / 1000).toFixed(2),
      ...(kind === 'redis-cluster' ? { publishesPerMaster: await publishesPerMaster() } : {}),
    }),
  );
} finally {
  await a.close();
  await b.close();
  await server.stop();
}
