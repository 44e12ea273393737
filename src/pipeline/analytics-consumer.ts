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
      batch.events.push({ roomId: e.roomId, seq: e.seq, kind: e.kind, userId: e.user.id, bot: e.user.bot === true, at: e.createdAt });
      continue;
    }
    if (typeof record.at !== 'number' || typeof record.node !== 'string') {
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

export function consumeForAnalytics(log: EventLog, analytics: Analytics, options: { batch: number; gatherMs: number; observer?: AnalyticsObserver }): () => Promise<void> {
  let prepared = false;
  return log.consume(ANALYTICS_GROUP, { batch: options.batch, gatherMs: options.gatherMs }, async (entries) => {
    // The tables are made on the first batch (the server may have been down at start).
    if (!prepared) {
      await analytics.prepare();
      prepared = true;
    }
    const { batch, skipped } = analyticsBatch(entries);
    if (skipped > 0) options.observer?.skipped(skipped);
    await analytics.write(batch);
    const now = Date.now();
    options.observer?.written(entries.length, entries.filter((e) => e.redelivered === 0).map((e) => Math.max(0, (now - e.storedAt) / 1000)));
  });
}
