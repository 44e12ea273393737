/**
 * What the job backends keep in the SQL store: every job of the embedded queue, and the repeat
 * schedules of the backends without their own (embedded, RabbitMQ). Each method is one
 * transaction; a row changes hands only under the write lock (SQLite) or a row lock taken with
 * SKIP LOCKED (PostgreSQL), so processes sharing the database never claim one job twice.
 *
 * The methods are part of the SQL store objects (SqlStore), so the embedded store's thread runs
 * them like any Store call. Times are the caller's clock, epoch ms.
 */
import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import type { DeadJob, JobCounts, Store } from '../../ports.js';
import { inChunks, type SqlDialect } from './dialect.js';
import type { Database, JobsTable } from './schema.js';

/** A SQL store: the Store port and the job tables beside it. */
export type StoreWithJobs = Store & JobStore;

export interface NewJobRow {
  id: string;
  queue: string;
  key: string | null;
  payload: string;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  runAt: number;
}

/** A job leased to a worker: the run it is now on. */
export interface ClaimedJobRow {
  id: string;
  queue: string;
  key: string | null;
  payload: string;
  attempt: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  createdAt: number;
}

export interface DueSchedule {
  queue: string;
  name: string;
  payload: string;
  /** The period made due, by number since the epoch: names its job, so a repeat is idempotent. */
  slot: number;
}

export interface JobStore {
  /**
   * Inserts the job, or with a key held by a live job (not done, or done less than
   * `keyRetentionMs` ago) answers that job's id with `created: false`. A done job past the
   * retention gives its key up.
   */
  jobsEnqueue(job: NewJobRow, now: number, keyRetentionMs: number): Promise<{ id: string; created: boolean }>;
  /**
   * Leases up to `limit` jobs of `queue` to `owner` until now + leaseMs: ready ones (run_at
   * reached) oldest first, and active ones whose lease lapsed (their worker died). A lapsed job
   * with no attempt left is made dead instead. Each claimed job's attempt goes up by one.
   */
  jobsClaim(queue: string, owner: string, limit: number, now: number, leaseMs: number): Promise<ClaimedJobRow[]>;
  /** Extends the leases `owner` still holds among `ids`; answers the ids it still holds. */
  jobsRenew(ids: string[], owner: string, now: number, leaseMs: number): Promise<string[]>;
  /** Marks the run done; false when `owner` no longer held it (the lease lapsed and another took it). */
  jobsComplete(id: string, owner: string, attempt: number, now: number): Promise<boolean>;
  /** Ends the run failed: back to waiting until `retryAt`, or dead when it is null. False when not held. */
  jobsFail(id: string, owner: string, attempt: number, now: number, error: string, retryAt: number | null): Promise<boolean>;
  /** Gives the run back unfinished (shutdown): ready again at once, the attempt not counted. */
  jobsRelease(id: string, owner: string, attempt: number, now: number): Promise<boolean>;
  jobsCounts(queue: string, now: number): Promise<JobCounts>;
  jobsDead(queue: string, limit: number): Promise<DeadJob[]>;
  jobsRetryDead(queue: string, id: string, now: number): Promise<boolean>;
  jobsPurgeDead(queue: string, id: string | null): Promise<number>;
  /**
   * Deletes at most `limit` done jobs finished before `before`, and at most `limit` idempotency
   * keys (job_keys) done or left pending before it; answers how many of both.
   */
  jobsSweep(before: number, limit: number): Promise<number>;
  /**
   * Creates or replaces the schedule. A new one is due at once; a changed period keeps the
   * next start unless the new period brings it closer.
   */
  jobsScheduleUpsert(queue: string, name: string, everyMs: number, payload: string, now: number): Promise<void>;
  /** Claims the schedules due at `now`, moving each to its next period after now (missed ones are skipped, not caught up). */
  jobsClaimDueSchedules(now: number, limit: number): Promise<DueSchedule[]>;
  /**
   * The idempotency keys of a backend keeping its jobs elsewhere (RabbitMQ): claims `key` of
   * `queue` for the job `id`, pending until jobsSetKeys makes it live. When the key is held (by
   * a live job, a job done less than `retentionMs` ago, or a pending claim younger than
   * `pendingMs`) it answers the holder with `created: false`, and `pending: true` while the
   * holder's enqueue is not confirmed (ask again shortly: it may be released). A key done past
   * the retention, or pending past `pendingMs` (its process died before publishing), is taken over.
   */
  jobsClaimKey(queue: string, key: string, id: string, now: number, retentionMs: number, pendingMs: number): Promise<KeyClaim>;
  /**
   * Moves the keys of `queue` that these jobs hold (a key since taken over by another job is left
   * alone): `live` once the job's publish is confirmed, `done` when it completed (held for the
   * retention from `now`), `released` deletes it (its publish failed, or the dead job was purged).
   */
  jobsSetKeys(queue: string, keys: ReadonlyArray<{ key: string; id: string }>, state: 'live' | 'done' | 'released', now: number): Promise<void>;
}

export interface KeyClaim {
  id: string;
  created: boolean;
  pending: boolean;
}

const CLAIMED_COLUMNS = ['id', 'queue', 'job_key', 'payload', 'attempt', 'max_attempts', 'backoff_base_ms', 'backoff_max_ms', 'created_at'] as const;
type ClaimedRow = Pick<JobsTable, (typeof CLAIMED_COLUMNS)[number]>;

const toClaimed = (row: ClaimedRow): ClaimedJobRow => ({
  id: row.id,
  queue: row.queue,
  key: row.job_key,
  payload: row.payload,
  attempt: Number(row.attempt),
  maxAttempts: Number(row.max_attempts),
  backoffBaseMs: Number(row.backoff_base_ms),
  backoffMaxMs: Number(row.backoff_max_ms),
  createdAt: Number(row.created_at),
});

export class SqlJobStore implements JobStore {
  readonly #db: Kysely<Database>;
  readonly #dialect: SqlDialect;

  constructor(db: Kysely<Database>, dialect: SqlDialect) {
    this.#db = db;
    this.#dialect = dialect;
  }

  jobsEnqueue(job: NewJobRow, now: number, keyRetentionMs: number): Promise<{ id: string; created: boolean }> {
    return this.#dialect.write(this.#db, async (trx) => {
      if (job.key !== null) {
        // Concurrent enqueues of one key: the first transaction to lock it decides.
        await this.#dialect.lockKeys(trx, [`job:${job.queue}:${job.key}`]);
        const existing = await trx
          .selectFrom('jobs')
          .select(['id', 'state', 'finished_at'])
          .where('queue', '=', job.queue)
          .where('job_key', '=', job.key)
          .executeTakeFirst();
        if (existing !== undefined) {
          const expired = existing.state === 'done' && Number(existing.finished_at) < now - keyRetentionMs;
          if (!expired) return { id: existing.id, created: false };
          await trx.deleteFrom('jobs').where('id', '=', existing.id).execute();
        }
      }
      await trx
        .insertInto('jobs')
        .values({
          id: job.id,
          queue: job.queue,
          job_key: job.key,
          payload: job.payload,
          state: 'waiting',
          attempt: 0,
          max_attempts: job.maxAttempts,
          backoff_base_ms: job.backoffBaseMs,
          backoff_max_ms: job.backoffMaxMs,
          run_at: job.runAt,
          lease_owner: null,
          lease_until: null,
          error: null,
          created_at: now,
          finished_at: null,
        })
        .execute();
      return { id: job.id, created: true };
    });
  }

  jobsClaim(queue: string, owner: string, limit: number, now: number, leaseMs: number): Promise<ClaimedJobRow[]> {
    return this.#dialect.write(this.#db, async (trx) => {
      // Lapsed leases first: their worker died mid-run. Out of attempts, they are dead.
      let lapsed = trx
        .selectFrom('jobs')
        .select(['id', 'attempt', 'max_attempts'])
        .where('queue', '=', queue)
        .where('state', '=', 'active')
        .where('lease_until', '<', now)
        .orderBy('lease_until')
        .limit(limit);
      if (this.#dialect.lockRows) lapsed = lapsed.forUpdate().skipLocked();
      const lapsedRows = await lapsed.execute();
      const exhausted = lapsedRows.filter((r) => Number(r.attempt) >= Number(r.max_attempts)).map((r) => r.id);
      if (exhausted.length > 0) {
        await trx
          .updateTable('jobs')
          .set({ state: 'dead', lease_owner: null, lease_until: null, finished_at: now, error: 'The worker running it stopped (its lease lapsed) on its last attempt.' })
          .where('id', 'in', exhausted)
          .execute();
      }
      const ids = lapsedRows.filter((r) => Number(r.attempt) < Number(r.max_attempts)).map((r) => r.id);
      if (ids.length < limit) {
        let ready = trx
          .selectFrom('jobs')
          .select('id')
          .where('queue', '=', queue)
          .where('state', '=', 'waiting')
          .where('run_at', '<=', now)
          .orderBy('run_at')
          .orderBy('seq')
          .limit(limit - ids.length);
        if (this.#dialect.lockRows) ready = ready.forUpdate().skipLocked();
        for (const row of await ready.execute()) ids.push(row.id);
      }
      if (ids.length === 0) return [];
      const rows = await trx
        .updateTable('jobs')
        .set((eb) => ({ state: 'active', attempt: eb('attempt', '+', 1), lease_owner: owner, lease_until: now + leaseMs }))
        .where('id', 'in', ids)
        .returning([...CLAIMED_COLUMNS])
        .execute();
      // In the order they were chosen: lapsed first, then ready by run_at.
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.flatMap((id) => {
        const row = byId.get(id);
        return row === undefined ? [] : [toClaimed(row)];
      });
    });
  }

  async jobsRenew(ids: string[], owner: string, now: number, leaseMs: number): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.#db
      .updateTable('jobs')
      .set({ lease_until: now + leaseMs })
      .where('id', 'in', ids)
      .where('state', '=', 'active')
      .where('lease_owner', '=', owner)
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  }

  async jobsComplete(id: string, owner: string, attempt: number, now: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('jobs')
      .set({ state: 'done', lease_owner: null, lease_until: null, finished_at: now, error: null })
      .where('id', '=', id)
      .where('state', '=', 'active')
      .where('lease_owner', '=', owner)
      .where('attempt', '=', attempt)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async jobsFail(id: string, owner: string, attempt: number, now: number, error: string, retryAt: number | null): Promise<boolean> {
    const result = await this.#db
      .updateTable('jobs')
      .set(
        retryAt === null
          ? { state: 'dead', lease_owner: null, lease_until: null, finished_at: now, error }
          : { state: 'waiting', lease_owner: null, lease_until: null, run_at: retryAt, error },
      )
      .where('id', '=', id)
      .where('state', '=', 'active')
      .where('lease_owner', '=', owner)
      .where('attempt', '=', attempt)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async jobsRelease(id: string, owner: string, attempt: number, now: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('jobs')
      .set((eb) => ({ state: 'waiting', lease_owner: null, lease_until: null, run_at: now, attempt: eb('attempt', '-', 1) }))
      .where('id', '=', id)
      .where('state', '=', 'active')
      .where('lease_owner', '=', owner)
      .where('attempt', '=', attempt)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async jobsCounts(queue: string, now: number): Promise<JobCounts> {
    const rows = await this.#db
      .selectFrom('jobs')
      .select((eb) => [
        sql<string>`CASE WHEN state = 'waiting' AND run_at > ${now} THEN 'delayed' ELSE state END`.as('bucket'),
        eb.fn.countAll<number>().as('n'),
      ])
      .where('queue', '=', queue)
      .where('state', '!=', 'done')
      .groupBy('bucket')
      .execute();
    const counts: JobCounts = { waiting: 0, delayed: 0, active: 0, dead: 0 };
    for (const row of rows) if (row.bucket in counts) counts[row.bucket as keyof JobCounts] = Number(row.n);
    return counts;
  }

  async jobsDead(queue: string, limit: number): Promise<DeadJob[]> {
    const rows = await this.#db
      .selectFrom('jobs')
      .select(['id', 'queue', 'job_key', 'payload', 'attempt', 'error', 'created_at', 'finished_at'])
      .where('queue', '=', queue)
      .where('state', '=', 'dead')
      .orderBy('finished_at')
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      queue: r.queue,
      payload: JSON.parse(r.payload) as DeadJob['payload'],
      key: r.job_key,
      attempts: Number(r.attempt),
      error: r.error ?? '',
      enqueuedAt: Number(r.created_at),
      failedAt: Number(r.finished_at),
    }));
  }

  async jobsRetryDead(queue: string, id: string, now: number): Promise<boolean> {
    const result = await this.#db
      .updateTable('jobs')
      .set({ state: 'waiting', attempt: 0, run_at: now, finished_at: null })
      .where('id', '=', id)
      .where('queue', '=', queue)
      .where('state', '=', 'dead')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async jobsPurgeDead(queue: string, id: string | null): Promise<number> {
    let query = this.#db.deleteFrom('jobs').where('queue', '=', queue).where('state', '=', 'dead');
    if (id !== null) query = query.where('id', '=', id);
    const result = await query.executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async jobsSweep(before: number, limit: number): Promise<number> {
    const result = await this.#db
      .deleteFrom('jobs')
      .where('id', 'in', (eb) => eb.selectFrom('jobs').select('id').where('state', '=', 'done').where('finished_at', '<', before).limit(limit))
      .executeTakeFirst();
    const keys = await this.#db
      .deleteFrom('job_keys')
      .where(({ eb, refTuple, selectFrom }) =>
        eb(
          refTuple('queue', 'job_key'),
          'in',
          selectFrom('job_keys').select(['queue', 'job_key']).where('state', '!=', 'live').where('since', '<', before).limit(limit).$asTuple('queue', 'job_key'),
        ),
      )
      .executeTakeFirst();
    return Number(result.numDeletedRows) + Number(keys.numDeletedRows);
  }

  jobsScheduleUpsert(queue: string, name: string, everyMs: number, payload: string, now: number): Promise<void> {
    return this.#dialect.write(this.#db, async (trx) => {
      let select = trx.selectFrom('job_schedules').select(['every_ms', 'next_at']).where('queue', '=', queue).where('name', '=', name);
      if (this.#dialect.lockRows) select = select.forUpdate();
      const existing = await select.executeTakeFirst();
      if (existing === undefined) {
        await trx.insertInto('job_schedules').values({ queue, name, every_ms: everyMs, payload, next_at: now }).onConflict((oc) => oc.doNothing()).execute();
        return;
      }
      const nextAt = Math.min(Number(existing.next_at), now + everyMs);
      await trx.updateTable('job_schedules').set({ every_ms: everyMs, payload, next_at: nextAt }).where('queue', '=', queue).where('name', '=', name).execute();
    });
  }

  jobsClaimDueSchedules(now: number, limit: number): Promise<DueSchedule[]> {
    return this.#dialect.write(this.#db, async (trx) => {
      let select = trx.selectFrom('job_schedules').selectAll().where('next_at', '<=', now).orderBy('next_at').limit(limit);
      if (this.#dialect.lockRows) select = select.forUpdate().skipLocked();
      const due = await select.execute();
      const claimed: DueSchedule[] = [];
      for (const row of due) {
        const every = Number(row.every_ms);
        // The period `now` falls in is the one made due; the next starts after it.
        const slot = Math.floor(now / every);
        await trx
          .updateTable('job_schedules')
          .set({ next_at: (slot + 1) * every })
          .where('queue', '=', row.queue)
          .where('name', '=', row.name)
          .execute();
        claimed.push({ queue: row.queue, name: row.name, payload: row.payload, slot });
      }
      return claimed;
    });
  }

  jobsClaimKey(queue: string, key: string, id: string, now: number, retentionMs: number, pendingMs: number): Promise<KeyClaim> {
    return this.#dialect.write(this.#db, async (trx) => {
      // Concurrent claims of one key: the first transaction to lock it decides.
      await this.#dialect.lockKeys(trx, [`job:${queue}:${key}`]);
      const existing = await trx.selectFrom('job_keys').select(['id', 'state', 'since']).where('queue', '=', queue).where('job_key', '=', key).executeTakeFirst();
      if (existing === undefined) {
        await trx.insertInto('job_keys').values({ queue, job_key: key, id, state: 'pending', since: now }).execute();
        return { id, created: true, pending: false };
      }
      const since = Number(existing.since);
      const lapsed = (existing.state === 'done' && since < now - retentionMs) || (existing.state === 'pending' && since < now - pendingMs);
      if (!lapsed) return { id: existing.id, created: false, pending: existing.state === 'pending' };
      await trx.updateTable('job_keys').set({ id, state: 'pending', since: now }).where('queue', '=', queue).where('job_key', '=', key).execute();
      return { id, created: true, pending: false };
    });
  }

  async jobsSetKeys(queue: string, keys: ReadonlyArray<{ key: string; id: string }>, state: 'live' | 'done' | 'released', now: number): Promise<void> {
    // Two parameters a key, and the queue's.
    await inChunks([...keys], 2, this.#dialect, async (chunk) => {
      const held = (eb: ExpressionBuilder<Database, 'job_keys'>) =>
        eb.and([eb('queue', '=', queue), eb(eb.refTuple('job_key', 'id'), 'in', chunk.map((k) => eb.tuple(k.key, k.id)))]);
      if (state === 'released') await this.#db.deleteFrom('job_keys').where(held).execute();
      else await this.#db.updateTable('job_keys').set({ state, since: now }).where(held).execute();
    });
  }
}
