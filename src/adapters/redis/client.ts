/**
 * The Redis connection sessions, the cache, rate limits and presence share: one Redis, or a
 * Redis Cluster reached through any of its nodes (REDIS_CLUSTER), whose commands ioredis sends
 * to the master owning each key's slot.
 */
import { Cluster, Redis } from 'ioredis';
import { redisOptions } from './bus.js';
import { clusterOptions, clusterSeed } from './cluster-bus.js';

export type RedisClient = Redis | Cluster;

/** Presence partitions on a Redis Cluster: several per master, so presence is spread over them all. */
export const CLUSTER_PRESENCE_PARTITIONS = 16;

/** A client of the Redis at `url`, or of the cluster it is a node of; not connected yet. */
export function redisClient(url: string, options: { cluster: boolean; seeds?: Array<{ host: string; port: number }>; commandTimeoutMs: number; connectionName: string }): RedisClient {
  if (!options.cluster) return new Redis(url, { ...redisOptions(options.commandTimeoutMs), connectionName: options.connectionName });
  return new Cluster([clusterSeed(url), ...(options.seeds ?? [])], clusterOptions(url, options.commandTimeoutMs, options.connectionName));
}
