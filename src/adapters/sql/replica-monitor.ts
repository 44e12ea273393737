/**
 * How far each read replica has caught up with the primary, and which replicas are in rotation.
 *
 * Every probe interval the primary's WAL insert position is sampled, noting the time just before
 * the question was sent; then each replica is asked how far it has replayed. A replica that
 * replayed up to a sample's position holds everything committed before that sample's time: that
 * time is its `caughtUpTo`, and now − caughtUpTo its lag (an upper bound, precise to one
 * interval). Both are computed afresh at every probe, so a replica that goes back (restored from
 * an older backup, rewound) is seen as it is. The position it replayed is kept too: a write's
 * mark (write-marks.ts) is a WAL position, and a replica that replayed past it holds the write.
 *
 * A replica is in rotation while its last probe answered, it is still a standby, and its lag is
 * at most `maxLagMs`. A replica that stops answering, or stops replaying, drops out by itself at
 * the next probe or as its lag passes the bound; it comes back by itself once it answers and has
 * caught up. A read that fails on a replica for a lost connection takes it out at once
 * (failed()) for at least `holdDownMs`, and then until a probe answers. While the primary cannot
 * be asked, no replica's caughtUpTo moves: their lags grow and they drop out, since nothing could
 * tell whether they hold the latest writes.
 */

import { withDeadline } from '../deadline.js';

/** What a standby says of itself: false when the server is not (or no longer) a standby. */
export interface ReplayPosition {
  standby: boolean;
  /** The WAL position replayed; null while it has replayed nothing yet. */
  lsn: bigint | null;
}

export interface MonitoredReplica {
  /** For logs and metrics: host, port and database, never a password. */
  name: string;
  replayed(): Promise<ReplayPosition>;
}

export interface ReplicaMonitorOptions {
  probeMs: number;
  maxLagMs: number;
  /** Each probe's deadline; default max(probeMs, 1 s). */
  timeoutMs?: number;
  /** How long a replica whose read failed stays out at least, ms; default max(probeMs, 1 s). */
  holdDownMs?: number;
  /** Told when a replica leaves or rejoins the rotation, and why. */
  onChange?: (replica: string, inRotation: boolean, reason: string) => void;
  now?: () => number;
}

export interface ReplicaState {
  name: string;
  inRotation: boolean;
  /** now − caughtUpTo, seconds; null when it never caught up to any sample. */
  lagSeconds: number | null;
  /** Bytes of WAL between the primary's last sample and what the replica replayed. */
  lagBytes: number | null;
}

interface Tracked {
  replica: MonitoredReplica;
  up: boolean;
  /** Out of rotation until then at least (after a failed read). */
  heldUntil: number;
  caughtUpTo: number | null;
  /** The WAL position replayed at the last probe. */
  replayed: bigint | null;
  lagBytes: number | null;
  /** Whether it was in rotation when last reported (onChange fires on changes only). */
  reported: boolean;
}

interface Sample {
  at: number;
  lsn: bigint;
}

const withTimeout = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> => withDeadline(promise, ms, () => new Error(`${what} did not answer within ${ms} ms`));

export class ReplicaMonitor {
  readonly #primary: () => Promise<bigint>;
  readonly #tracked: Tracked[];
  readonly #options: Required<Omit<ReplicaMonitorOptions, 'onChange'>> & Pick<ReplicaMonitorOptions, 'onChange'>;
  /** Primary positions, oldest first, kept for as long as a replica in rotation may lag. */
  readonly #samples: Sample[] = [];
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #cursor = 0;
  #ticking: Promise<void> | null = null;

  constructor(primary: () => Promise<bigint>, replicas: MonitoredReplica[], options: ReplicaMonitorOptions) {
    this.#primary = primary;
    this.#tracked = replicas.map((replica) => ({ replica, up: false, heldUntil: 0, caughtUpTo: null, replayed: null, lagBytes: null, reported: false }));
    const floor = Math.max(options.probeMs, 1_000);
    this.#options = { timeoutMs: floor, holdDownMs: floor, now: () => performance.now(), ...options };
  }

  /** Probes now, then every probeMs until close(). Resolves after the first probe. */
  async start(): Promise<void> {
    await this.tick();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      void this.tick().finally(() => this.#schedule());
    }, this.#options.probeMs);
    this.#timer.unref();
  }

  /** One probe of the primary and every replica; concurrent calls share it. */
  tick(): Promise<void> {
    this.#ticking ??= this.#probe().finally(() => {
      this.#ticking = null;
    });
    return this.#ticking;
  }

  async #probe(): Promise<void> {
    const { timeoutMs, now } = this.#options;
    const at = now();
    try {
      const lsn = await withTimeout(this.#primary(), timeoutMs, 'the primary');
      this.#samples.push({ at, lsn });
    } catch {
      // No sample: no replica can be shown to hold writes made from now on.
    }
    this.#prune(now());
    const latest = this.#samples.at(-1);
    await Promise.all(
      this.#tracked.map(async (t) => {
        try {
          const position = await withTimeout(t.replica.replayed(), timeoutMs, t.replica.name);
          t.up = position.standby;
          t.replayed = position.standby ? position.lsn : null;
          if (t.replayed === null) {
            t.caughtUpTo = null;
            return this.#report(t, position.standby ? 'nothing replayed yet' : 'not a standby');
          }
          const lsn = t.replayed;
          // The latest sample it holds; none kept (it lags past them all): it caught up to nothing we know.
          let caughtUpTo: number | null = null;
          for (let i = this.#samples.length - 1; i >= 0; i--) {
            const sample = this.#samples[i] as Sample;
            if (sample.lsn <= lsn) {
              caughtUpTo = sample.at;
              break;
            }
          }
          t.caughtUpTo = caughtUpTo;
          t.lagBytes = latest === undefined ? null : Math.max(0, Number(latest.lsn - lsn));
        } catch {
          t.up = false;
        }
        this.#report(t, t.up ? 'lagging' : 'not answering');
      }),
    );
  }

  /** Forgets samples no replica in rotation can still need (older than the lag bound, the latest kept). */
  #prune(now: number): void {
    const horizon = now - this.#options.maxLagMs - 2 * this.#options.probeMs;
    let drop = 0;
    while (drop < this.#samples.length - 1 && (this.#samples[drop] as Sample).at < horizon) drop += 1;
    if (drop > 0) this.#samples.splice(0, drop);
  }

  #inRotation(t: Tracked, now: number): boolean {
    return t.up && now >= t.heldUntil && t.caughtUpTo !== null && now - t.caughtUpTo <= this.#options.maxLagMs;
  }

  #report(t: Tracked, reason: string): void {
    const inRotation = this.#inRotation(t, this.#options.now());
    if (inRotation === t.reported) return;
    t.reported = inRotation;
    this.#options.onChange?.(t.replica.name, inRotation, inRotation ? 'caught up' : reason);
  }

  /**
   * A replica in rotation that had replayed the WAL up to `since` at its last probe (null: any),
   * taken in turn; null when none had.
   */
  choose(since: bigint | null): number | null {
    const now = this.#options.now();
    const count = this.#tracked.length;
    for (let k = 0; k < count; k++) {
      const index = (this.#cursor + k) % count;
      const t = this.#tracked[index] as Tracked;
      if (this.#inRotation(t, now) && (since === null || (t.replayed !== null && t.replayed >= since))) {
        this.#cursor = (index + 1) % count;
        return index;
      }
    }
    return null;
  }

  /** Whether any replica is in rotation now. */
  get anyInRotation(): boolean {
    const now = this.#options.now();
    return this.#tracked.some((t) => this.#inRotation(t, now));
  }

  /** A read on replica `index` lost its connection: out of rotation for holdDownMs at least, then until a probe answers. */
  failed(index: number): void {
    const t = this.#tracked[index];
    if (t === undefined) return;
    t.heldUntil = this.#options.now() + this.#options.holdDownMs;
    if (!t.up) return;
    t.up = false;
    this.#report(t, 'a read failed');
  }

  now(): number {
    return this.#options.now();
  }

  /** How long a write's mark binds reads, ms: the longest a replica in rotation may lag, and a probe interval to show it caught up. */
  get markTtlMs(): number {
    return this.#options.maxLagMs + 2 * this.#options.probeMs;
  }

  states(): ReplicaState[] {
    const now = this.#options.now();
    return this.#tracked.map((t) => ({
      name: t.replica.name,
      inRotation: this.#inRotation(t, now),
      lagSeconds: t.caughtUpTo === null ? null : Math.max(0, now - t.caughtUpTo) / 1_000,
      lagBytes: t.lagBytes,
    }));
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#ticking?.catch(() => undefined);
  }
}
