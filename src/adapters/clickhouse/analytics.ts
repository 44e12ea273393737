/**
 * Analytics in ClickHouse (docs/architecture.md, "Analytics"). Three tables, each a
 * ReplacingMergeTree whose sorting key is the row's identity, so a row written twice (a batch
 * the log hands again, a replay) is one row once merged, and the reports read them with FINAL
 * (or count distinct) so they count it once before that:
 *
 * - `stream_events`: every committed stream event, by (room_id, seq);
 * - `ops_events`: connections, logins, registrations, job outcomes, by (name, id);
 * - `delivery_latency`: each node's histogram of delivery latency over a window, a row per
 *   bucket, by (id, le_ms).
 *
 * Partitioned by month of `at` (a row's `at` never changes, so its repeats land in its
 * partition). Times are DateTime('UTC'): days and hours are UTC.
 */
import type {
  ActiveUsers,
  Analytics,
  AnalyticsBatch,
  AnalyticsRange,
  BusyHour,
  BusyRoom,
  DeliveryLatency,
  LatencyPercentiles,
  RoomDayMessages,
} from '../../ports.js';
import { ClickHouseHttp, type ClickHouseOptions, identifier, integer, literal } from './http.js';

export interface ClickHouseAnalyticsOptions extends ClickHouseOptions {
  database: string;
}

/** Kinds of operational event that show a user active: they connected, or logged in. */
const ACTIVE_OPS = ['connection.opened', 'login.succeeded'];
/** Stream events a user makes themselves by writing (being added to a room, or moderated, is not activity). */
const ACTIVE_KINDS = ['message', 'edit', 'delete', 'reaction_added', 'reaction_removed'];
const QUANTILES = [0.5, 0.9, 0.99, 0.999] as const;

const seconds = (ms: number) => integer(Math.floor(ms / 1000));

interface PercentileRow {
  total: number;
  q: number[];
}

function percentiles(row: PercentileRow | undefined): LatencyPercentiles {
  const deliveries = Number(row?.total ?? 0);
  const at = (i: number) => (deliveries === 0 ? null : Number(row?.q[i]));
  return { deliveries, p50Ms: at(0), p90Ms: at(1), p99Ms: at(2), p999Ms: at(3) };
}

/** ClickHouse's codes for a missing table or database. */
const MISSING = new Set([60, 81]);

export class ClickHouseAnalytics implements Analytics {
  readonly #ch: ClickHouseHttp;
  readonly #db: string;
  /** Whether this process made (or found) the tables: a report before the first write, or after a drop, makes them. */
  #prepared = false;

  constructor(options: ClickHouseAnalyticsOptions) {
    this.#ch = new ClickHouseHttp(options);
    this.#db = identifier(options.database);
  }

  /** A report's query: the tables made first if they are missing (an empty report, not an error). */
  async #query<Row>(statement: string): Promise<Row[]> {
    if (!this.#prepared) await this.prepare();
    try {
      return await this.#ch.query<Row>(statement);
    } catch (error) {
      if (!MISSING.has((error as { code?: number }).code ?? 0)) throw error;
      this.#prepared = false;
      await this.prepare();
      return this.#ch.query<Row>(statement);
    }
  }

  async prepare(): Promise<void> {
    await this.#prepare();
    this.#prepared = true;
  }

  async #prepare(): Promise<void> {
    const db = this.#db;
    await this.#ch.exec(`CREATE DATABASE IF NOT EXISTS ${db}`);
    await this.#ch.exec(`CREATE TABLE IF NOT EXISTS ${db}.stream_events (
      room_id String, seq UInt64, kind String, user_id String, bot UInt8, at DateTime('UTC'), at_ms UInt64
    ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(at) ORDER BY (room_id, seq)`);
    await this.#ch.exec(`CREATE TABLE IF NOT EXISTS ${db}.ops_events (
      id String, name String, node String, user_id String, bot UInt8, at DateTime('UTC'), at_ms UInt64, data String
    ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(at) ORDER BY (name, id)`);
    await this.#ch.exec(`CREATE TABLE IF NOT EXISTS ${db}.delivery_latency (
      id String, node String, at DateTime('UTC'), le_ms Float64, deliveries UInt64
    ) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM(at) ORDER BY (id, le_ms)`);
  }

  async write(batch: AnalyticsBatch): Promise<void> {
    const db = this.#db;
    // One insert per table; each is retried whole with the batch, and a repeat is the same rows.
    await this.#ch.insert(
      `${db}.stream_events`,
      batch.events.map((e) => ({ room_id: e.roomId, seq: e.seq, kind: e.kind, user_id: e.userId, bot: e.bot ? 1 : 0, at: Math.floor(e.at / 1000), at_ms: e.at })),
    );
    await this.#ch.insert(
      `${db}.ops_events`,
      batch.ops.map((o) => ({ id: o.id, name: o.name, node: o.node, user_id: o.userId, bot: o.bot ? 1 : 0, at: Math.floor(o.at / 1000), at_ms: o.at, data: o.data })),
    );
    await this.#ch.insert(
      `${db}.delivery_latency`,
      batch.latency.map((l) => ({ id: l.id, node: l.node, at: Math.floor(l.at / 1000), le_ms: l.leMs, deliveries: l.deliveries })),
    );
  }

  #range(range: AnalyticsRange): string {
    return `at >= toDateTime(${seconds(range.from)}, 'UTC') AND at < toDateTime(${seconds(range.to)}, 'UTC')`;
  }

  async messagesPerRoomPerDay(range: AnalyticsRange, options: { roomId?: string; limit: number }): Promise<RoomDayMessages[]> {
    const room = options.roomId === undefined ? '' : ` AND room_id = ${literal(options.roomId)}`;
    const rows = await this.#query<{ day: string; room_id: string; messages: number }>(
      `SELECT toString(toDate(at)) AS day, room_id, count() AS messages
       FROM ${this.#db}.stream_events FINAL
       WHERE kind = 'message' AND ${this.#range(range)}${room}
       GROUP BY day, room_id ORDER BY day, messages DESC, room_id LIMIT ${integer(options.limit)}`,
    );
    return rows.map((r) => ({ day: r.day, roomId: r.room_id, messages: Number(r.messages) }));
  }

  async activeUsers(range: AnalyticsRange): Promise<ActiveUsers> {
    // Distinct users, so repeats of a row change nothing: no FINAL needed.
    const actives = `SELECT toDate(at) AS day, user_id FROM ${this.#db}.stream_events
      WHERE bot = 0 AND kind IN (${ACTIVE_KINDS.map(literal).join(', ')}) AND ${this.#range(range)}
      UNION ALL
      SELECT toDate(at) AS day, user_id FROM ${this.#db}.ops_events
      WHERE bot = 0 AND user_id != '' AND name IN (${ACTIVE_OPS.map(literal).join(', ')}) AND ${this.#range(range)}`;
    const daily = await this.#query<{ day: string; users: number }>(`SELECT toString(day) AS day, uniqExact(user_id) AS users FROM (${actives}) GROUP BY day ORDER BY day`);
    const monthly = await this.#query<{ month: string; users: number }>(
      `SELECT substring(toString(toStartOfMonth(day)), 1, 7) AS month, uniqExact(user_id) AS users FROM (${actives}) GROUP BY month ORDER BY month`,
    );
    return { daily: daily.map((r) => ({ day: r.day, users: Number(r.users) })), monthly: monthly.map((r) => ({ month: r.month, users: Number(r.users) })) };
  }

  async busiestRooms(range: AnalyticsRange, limit: number): Promise<BusyRoom[]> {
    const rows = await this.#query<{ room_id: string; messages: number; senders: number }>(
      `SELECT room_id, count() AS messages, uniqExact(user_id) AS senders
       FROM ${this.#db}.stream_events FINAL
       WHERE kind = 'message' AND ${this.#range(range)}
       GROUP BY room_id ORDER BY messages DESC, room_id LIMIT ${integer(limit)}`,
    );
    return rows.map((r) => ({ roomId: r.room_id, messages: Number(r.messages), senders: Number(r.senders) }));
  }

  async busiestHours(range: AnalyticsRange): Promise<BusyHour[]> {
    const rows = await this.#query<{ hour: number; messages: number }>(
      `SELECT toHour(at) AS hour, count() AS messages FROM ${this.#db}.stream_events FINAL
       WHERE kind = 'message' AND ${this.#range(range)} GROUP BY hour`,
    );
    const byHour = new Map(rows.map((r) => [Number(r.hour), Number(r.messages)]));
    return Array.from({ length: 24 }, (_, hour) => ({ hour, messages: byHour.get(hour) ?? 0 }));
  }

  async deliveryLatency(range: AnalyticsRange): Promise<DeliveryLatency> {
    const select = `sum(deliveries) AS total, quantilesExactWeighted(${QUANTILES.join(', ')})(le_ms, deliveries) AS q`;
    const from = `FROM ${this.#db}.delivery_latency FINAL WHERE ${this.#range(range)}`;
    const [total] = await this.#query<PercentileRow>(`SELECT ${select} ${from}`);
    const daily = await this.#query<PercentileRow & { day: string }>(`SELECT toString(toDate(at)) AS day, ${select} ${from} GROUP BY day ORDER BY day`);
    return { ...percentiles(total), daily: daily.map((r) => ({ day: r.day, ...percentiles(r) })) };
  }

  async counts(): Promise<{ events: number; ops: number; latencyWindows: number }> {
    const [row] = await this.#query<{ events: number; ops: number; windows: number }>(
      `SELECT (SELECT count() FROM ${this.#db}.stream_events FINAL) AS events,
              (SELECT count() FROM ${this.#db}.ops_events FINAL) AS ops,
              (SELECT uniqExact(id) FROM ${this.#db}.delivery_latency) AS windows`,
    );
    return { events: Number(row?.events ?? 0), ops: Number(row?.ops ?? 0), latencyWindows: Number(row?.windows ?? 0) };
  }

  async clear(): Promise<void> {
    for (const table of ['stream_events', 'ops_events', 'delivery_latency']) await this.#ch.exec(`TRUNCATE TABLE IF EXISTS ${this.#db}.${table}`);
  }
}
