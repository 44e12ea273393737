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
    new Gauge({
      name: 'parley_db_replica_lag_seconds',
      help: 'How far a read replica is behind the primary, seconds (an upper bound, precise to DATABASE_REPLICA_PROBE_MS); absent until it first caught up.',
      labelNames: ['replica'] as const,
      registers: [registry],
      aggregator: 'max',
      collect() {
        this.reset();
        for (const s of states()) if (s.lagSeconds !== null) this.set({ replica: s.name }, s.lagSeconds);
      },
    });
    new Gauge({
      name: 'parley_db_replica_lag_bytes',
      help: 'Bytes of WAL between the primary and what a read replica has replayed, at the last probe.',
      labelNames: ['replica'] as const,
      registers: [registry],
      aggregator: 'max',
      collect() {
        this.reset();
        for (const s of states()) if (s.lagBytes !== null) this.set({ replica: s.name }, s.lagBytes);
      },
    });
    new Gauge({
      name: 'parley_db_replica_in_rotation',
      help: 'Whether a read replica serves reads now (1) or is out of rotation (0): down, not a standby, or lagging past DATABASE_REPLICA_MAX_LAG_MS.',
      labelNames: ['replica'] as const,
      registers: [registry],
      aggregator: 'min',
      collect() {
        this.reset();
        for (const s of states()) this.set({ replica: s.name }, s.inRotation ? 1 : 0);
      },
    });
  }

  read(route: ReadRoute): void {
    this.#reads.inc({ route });
  }
}
