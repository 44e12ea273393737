/**
 * Metrics of reads routed over read replicas: where each routed read was served and why, and
 * each replica's lag and whether it is in rotation (read from the monitor at each scrape). Each
 * worker probes for itself: merged across a node's workers, the lag is the largest and the
 * rotation the smallest.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ReadRoute } from '../adapters/sql/read-routing.js';
import type { ReplicaState } from '../adapters/sql/replica-monitor.js';

export class ReplicaMetrics {
  readonly #reads: Counter<'route'>;

  constructor(registry: Registry, states: () => ReplicaState[]) {
    this.#reads = new Counter({
      name: 'parley_db_routed_reads_total',
      help: 'Reads that may go to a read replica, by where they went: replica, or the primary because the read named no reader (no_reader), the replicas lacked the reader\'s own latest write (own_write) or the room state asked for (room_behind), none was in rotation (no_replica), the replica lost its connection in the read (replica_failed), or replay cancelled it there (replica_conflict).',
      labelNames: ['route'] as const,
      registers: [registry],
    });
    // Each replica's figure, read at the scrape; a replica without one (null) has no sample.
    const gauge = (name: string, help: string, aggregator: 'max' | 'min', value: (s: ReplicaState) => number | null) =>
      new Gauge({
        name,
        help,
        labelNames: ['replica'] as const,
        registers: [registry],
        aggregator,
        collect() {
          this.reset();
          for (const s of states()) {
            const v = value(s);
            if (v !== null) this.set({ replica: s.name }, v);
          }
        },
      });
    gauge(
      'parley_db_replica_lag_seconds',
      'How far a read replica is behind the primary, seconds (an upper bound, precise to DATABASE_REPLICA_PROBE_MS); absent until it first caught up.',
      'max',
      (s) => s.lagSeconds,
    );
    gauge('parley_db_replica_lag_bytes', 'Bytes of WAL between the primary and what a read replica has replayed, at the last probe.', 'max', (s) => s.lagBytes);
    gauge(
      'parley_db_replica_in_rotation',
      'Whether a read replica serves reads now (1) or is out of rotation (0): down, not a standby, or lagging past DATABASE_REPLICA_MAX_LAG_MS.',
      'min',
      (s) => (s.inRotation ? 1 : 0),
    );
  }

  read(route: ReadRoute): void {
    this.#reads.inc({ route });
  }
}
