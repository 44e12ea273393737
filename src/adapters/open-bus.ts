/** Picks and connects the Bus the configuration asks for. */
import cluster from 'node:cluster';
import type { Config } from '../config.js';
import { ConfigError } from '../config.js';
import type { Bus } from '../ports.js';
import { IpcBus, type IpcEndpoint } from './ipc/bus.js';
import { MemoryBus } from './memory/bus.js';
import { NatsBus } from './nats/bus.js';
import type { ConnectionMonitor } from './outage.js';
import { RedisBus } from './redis/bus.js';
import { RedisClusterBus } from './redis/cluster-bus.js';

export type BusKind = 'memory' | 'ipc' | 'redis' | 'nats';

export function busKind(config: Config): BusKind {
  if (config.BUS !== 'auto') return config.BUS;
  if (config.NATS_URL !== '') return 'nats';
  if (config.REDIS_URL !== '') return 'redis';
  return cluster.isWorker ? 'ipc' : 'memory';
}

/**
 * `monitor` names a ConnectionMonitor for each network connection the bus opens (`redis bus
 * pub`, `redis bus sub`, `nats`), so each logs its outages once.
 */
export async function openBus(config: Config, onError: (error: unknown, context: string) => void, monitor?: (connection: string) => ConnectionMonitor): Promise<Bus> {
  const kind = busKind(config);
  switch (kind) {
    case 'memory':
      return new MemoryBus(onError);
    case 'ipc':
      if (!cluster.isWorker) throw new ConfigError('BUS=ipc needs `parley start --workers N` (it runs through the cluster primary).');
      return new IpcBus(process as unknown as IpcEndpoint, onError);
    case 'redis':
      if (config.REDIS_URL === '') throw new ConfigError('BUS=redis needs REDIS_URL.');
      if (config.REDIS_CLUSTER) {
        return RedisClusterBus.connect({
          url: config.REDIS_URL,
          seeds: config.REDIS_CLUSTER_NODES,
          prefix: config.REDIS_PREFIX,
          commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
          onError,
          ...(monitor === undefined ? {} : { monitors: { pub: monitor('redis bus pub'), sub: monitor('redis bus sub') } }),
        });
      }
      return RedisBus.connect({
        url: config.REDIS_URL,
        prefix: config.REDIS_PREFIX,
        sharded: config.REDIS_SHARDED_PUBSUB,
        commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
        onError,
        ...(monitor === undefined ? {} : { monitors: { pub: monitor('redis bus pub'), sub: monitor('redis bus sub') } }),
      });
    case 'nats':
      if (config.NATS_URL === '') throw new ConfigError('BUS=nats needs NATS_URL.');
      return NatsBus.connect({
        url: config.NATS_URL,
        prefix: config.REDIS_PREFIX.replace(/[^A-Za-z0-9_-]/g, '') || 'parley',
        onError,
        ...(monitor === undefined ? {} : { monitor: monitor('nats') }),
      });
  }
}
