/**
 * PostgreSQL with read replicas: the primary's store, a store on each hot standby, the monitor
 * that probes how far each has replayed, and the routing between them (read-routing.ts). The
 * probes have connections of their own (one per server), so a busy serving pool cannot make a
 * healthy replica look late, and a probe's deadline is its own.
 */
import type pg from 'pg';
import { type PostgresOptions, openPool, openPostgresStore } from './postgres.js';
import type { StoreWithJobs } from './job-store.js';
import { type ReadRoute, routeReads } from './read-routing.js';
import { type ReplayPosition, ReplicaMonitor } from './replica-monitor.js';
import { sharedMarks, WriteMarks } from './write-marks.js';
import { serverName } from './postgres-url.js';

export { serverName };
import type { ConnectionMonitor } from '../outage.js';
import type { Cache } from '../../ports.js';

export interface ReplicaOptions {
  /** How often the primary and each replica are probed, ms. */
  probeMs: number;
  /** A replica lagging more than this leaves the rotation, ms. */
  maxLagMs: number;
  /** The connection monitor of each replica's serving pool. */
  replicaMonitor?: (name: string) => ConnectionMonitor;
  onChange?: (replica: string, inRotation: boolean, reason: string) => void;
  onRead?: (route: ReadRoute) => void;
  onError?: (error: unknown, context: string) => void;
}

/** A WAL position as PostgreSQL writes it ('16/B374D848') as a number of bytes. */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text);
  if (match === null) throw new Error(`not a WAL position: ${text}`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}

async function one<T>(pool: pg.Pool, text: string): Promise<T> {
  const result = await pool.query(text);
  return result.rows[0] as T;
}

/** The primary's WAL insert position: every commit that has returned ends at or before it. */
const INSERT_POSITION = 'SELECT pg_current_wal_insert_lsn()::text AS lsn';

export interface ReplicatedStore {
  store: StoreWithJobs;
  monitor: ReplicaMonitor;
  /** Names of the replicas, in the monitor's order. */
  names: string[];
  /** Shares write marks with every process through this cache (Redis or memcached); null: this process only. */
  shareMarks(cache: Cache | null): void;
}

/**
 * `primary` (the store on `primaryUrl`) with its reads routed over stores opened on the
 * replicas; the first probe has answered when it resolves. Closing the answer closes `primary`.
 * Each URL must name one server (not a pooler or endpoint spreading connections over several):
 * what the probe reads of it must hold for the connections that serve reads.
 */
export async function withReadReplicas(primary: StoreWithJobs, primaryUrl: string, replicaUrls: string[], options: PostgresOptions, replicas: ReplicaOptions): Promise<ReplicatedStore> {
  const timeoutMs = Math.max(replicas.probeMs, 1_000);
  const names = replicaUrls.map(serverName);
  const stores = replicaUrls.map((url, i) => openPostgresStore(url, { ...options, monitor: replicas.replicaMonitor?.(names[i] as string) }));
  // Probe connections: no error of theirs is reported (a failed probe says it by failing).
  const quiet = { ...options, monitor: undefined };
  const primaryProbe = openPool(primaryUrl, quiet, 1, timeoutMs);
  const replicaProbes = replicaUrls.map((url) => openPool(url, quiet, 1, timeoutMs));
  // A write's mark: one cheap read per write call (a group commit's batch is one), on connections of their own.
  const positions = openPool(primaryUrl, quiet, 4, options.statementTimeoutMs);
  const monitor = new ReplicaMonitor(
    async () => parseLsn((await one<{ lsn: string }>(primaryProbe, INSERT_POSITION)).lsn),
    replicaProbes.map((pool, i) => ({
      name: names[i] as string,
      replayed: async (): Promise<ReplayPosition> => {
        const row = await one<{ standby: boolean; lsn: string | null }>(pool, 'SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS lsn');
        return { standby: row.standby, lsn: row.lsn === null ? null : parseLsn(row.lsn) };
      },
    })),
    { probeMs: replicas.probeMs, maxLagMs: replicas.maxLagMs, timeoutMs, onChange: replicas.onChange },
  );
  const router = routeReads(primary, stores, {
    monitor,
    marks: new WriteMarks(),
    position: async () => parseLsn((await one<{ lsn: string }>(positions, INSERT_POSITION)).lsn),
    onRead: replicas.onRead,
    onError: replicas.onError,
    release: async () => {
      await Promise.all([primaryProbe, positions, ...replicaProbes].map((pool) => pool.end().catch(() => undefined)));
    },
  });
  await monitor.start();
  return {
    store: router.store,
    monitor,
    names,
    shareMarks: (cache) => router.setSharedMarks(cache === null ? null : sharedMarks(cache, monitor.markTtlMs)),
  };
}
