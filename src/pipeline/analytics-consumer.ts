/**
 * The `analytics` group of the event log: every record, in batches, to the analytics store.
 * At least once, and exactly once in effect: each row is identified (a stream event by room and
 * seq, an operational event by its record id) and the store counts a row written twice once.
 * A failed write fails the batch, which the log hands again later: while the analytics server
 * is down the group falls behind in the log, and catches up when it is back; nothing else
 * waits for it. A replay (`parley analytics rebuild`) empties the tables and rewinds the group.
 */
import type { Analytics, AnalyticsBatch, EventLog, LogEntry } from '../ports.js';
import { decodeRecord, type OpsRecord } from './records.js';

export const ANALYTICS_GROUP = 'analytics';

/** An epoch-ms time ClickHouse's DateTime holds (1970 to 2105). */
const isTime = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) < 4_291_747_200_000;

/** Fields every operational record has, kept in their own columns. */
const OWN_FIELDS = new Set(['v', 'type', 'name', 'at', 'node', 'userId', 'bot']);

function latencyRows(entry: LogEntry, record: OpsRecord): AnalyticsBatch['latency'] {
  const buckets = Array.isArray(record.buckets) ? (record.buckets as unknown[]) : [];
  const rows: AnalyticsBatch['latency'] = [];
  for (const bucket of buckets) {
    if (!Array.isArray(bucket)) continue;
    const [leMs, deliveries] = bucket as unknown[];
    if (typeof leMs !== 'number' || typeof deliveries !== 'number' || !Number.isFinite(leMs) || !Number.isSafeInteger(deliveries) || deliveries <= 0) continue;
    rows.push({ id: entry.id, node: record.node, at: record.at, leMs, deliveries });
  }
  return rows;
}

/** What a batch of log entries writes to analytics, and how many it could not read. */
export function analyticsBatch(entries: LogEntry[]): { batch: AnalyticsBatch; skipped: number } {
  const batch: AnalyticsBatch = { events: [], ops: [], latency: [] };
  let skipped = 0;
  for (const entry of entries) {
    const record = decodeRecord(entry);
    if (record === undefined) {
      skipped += 1;
      continue;
    }
    if (record.type === 'stream') {
      const e = record.event;
      // Every field a column needs, as the column takes it: one bad record must not fail the batch for ever.
      if (!Number.isSafeInteger(e.seq) || e.seq < 0 || typeof e.kind !== 'string' || typeof e.user?.id !== 'string' || !isTime(e.createdAt)) {
        skipped += 1;
        continue;
      }
      batch.events.push({ roomId: e.roomId, seq: e.seq, kind: e.kind, userId: e.user.id, bot: e.user.bot === true, at: e.createdAt });
      continue;
    }
    if (!isTime(record.at) || typeof record.node !== 'string' || typeof record.name !== 'string') {
      skipped += 1;
      continue;
    }
    if (record.name === 'delivery.latency') {
      batch.latency.push(...latencyRows(entry, record));
      continue;
    }
    const data: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(record)) if (!OWN_FIELDS.has(key)) data[key] = value;
    batch.ops.push({ id: entry.id, name: record.name, node: record.node, userId: typeof record.userId === 'string' ? record.userId : '', bot: record.bot === true, at: record.at, data: JSON.stringify(data) });
  }
  return { batch, skipped };
}

export interface AnalyticsObserver {
  /** Rows written, and the seconds from each record's storing in the log to now. */
  written(records: number, delays: number[]): void;
  skipped(count: number): void;
}

const isOutage = (error: unknown) => (error as { code?: unknown }).code === 'unavailable';
/** ClickHouse's codes for a missing table or database: made again before the next try. */
const isMissingTable = (error: unknown) => [60, 81].includes((error as { code?: unknown }).code as number);

/**
 * Writes the entries' rows. An outage fails the whole batch (the log hands it again). A refusal
 * of anything else is the data's: the batch is written in halves, down to the one record
 * ClickHouse refuses, which is reported and skipped, so it never holds the group.
 */
async function writeEntries(analytics: Analytics, entries: LogEntry[], options: AnalyticsOptions): Promise<void> {
  const { batch, skipped } = analyticsBatch(entries);
  if (skipped > 0) options.observer?.skipped(skipped);
  try {
    await analytics.write(batch);
  } catch (error) {
    if (isOutage(error) || isMissingTable(error)) throw error;
    if (entries.length === 1) {
      options.onError(error, `analytics refused log record ${entries[0]?.offset} (skipped)`);
      options.observer?.skipped(1);
      return;
    }
    const half = Math.ceil(entries.length / 2);
    await writeEntries(analytics, entries.slice(0, half), options);
    await writeEntries(analytics, entries.slice(half), options);
  }
}

export interface AnalyticsOptions {
  batch: number;
  gatherMs: number;
  observer?: AnalyticsObserver;
  onError(error: unknown, context: string): void;
}

export function consumeForAnalytics(log: EventLog, analytics: Analytics, options: AnalyticsOptions): () => Promise<void> {
  let prepared = false;
  return log.consume(ANALYTICS_GROUP, { batch: options.batch, gatherMs: options.gatherMs }, async (entries) => {
    // The tables are made on the first batch (the server may have been down at start), and
    // again if they went missing (dropped, or a ClickHouse restored without them).
    if (!prepared) {
      await analytics.prepare();
      prepared = true;
    }
    try {
      await writeEntries(analytics, entries, options);
    } catch (error) {
      if (isMissingTable(error)) prepared = false;
      throw error;
    }
    const now = Date.now();
    options.observer?.written(entries.length, entries.filter((e) => e.redelivered === 0).map((e) => Math.max(0, (now - e.storedAt) / 1000)));
  });
}
