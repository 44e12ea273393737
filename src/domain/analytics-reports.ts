/**
 * The analytics reports server administrators read (REST `/api/v1/admin/analytics/…` and
 * `parley analytics`): the caller's server role is checked first, on the primary, every time;
 * then the range. Rooms are named from the store (a direct-message room by its kind only: an
 * administrator sees how busy it is, not who talk in it).
 */
import { AppError, forbidden, validationFailed } from '../errors.js';
import type { ActiveUsers, Analytics, AnalyticsRange, BusyHour, DeliveryLatency, RoomDayMessages, Store } from '../ports.js';

export const ANALYTICS_REPORTS = ['messages', 'active-users', 'busiest-rooms', 'busiest-hours', 'delivery-latency'] as const;
export type AnalyticsReportName = (typeof ANALYTICS_REPORTS)[number];

const DAY_MS = 86_400_000;
/** Without `from`: this many days before `to`. */
export const DEFAULT_RANGE_DAYS = 30;
/** Rooms named from the store at once, for busiest-rooms. */
const NAME_LOOKUPS = 16;
/** The longest range a report reads. */
export const MAX_RANGE_DAYS = 3_660;

export interface ReportRequest {
  /** YYYY-MM-DD (that day's start, UTC) or an ISO-8601 time; default `to` minus 30 days. */
  from?: string | undefined;
  /** Excluded; YYYY-MM-DD or an ISO-8601 time; default now. */
  to?: string | undefined;
  roomId?: string | undefined;
  limit?: number | undefined;
}

export interface NamedBusyRoom {
  roomId: string;
  /** null for a direct-message room, or a room deleted since. */
  name: string | null;
  visibility: 'public' | 'private' | 'dm' | null;
  messages: number;
  senders: number;
}

export type ReportResult =
  | { report: 'messages'; rows: RoomDayMessages[]; truncated: boolean }
  | ({ report: 'active-users' } & ActiveUsers)
  | { report: 'busiest-rooms'; rooms: NamedBusyRoom[] }
  | { report: 'busiest-hours'; hours: BusyHour[] }
  | ({ report: 'delivery-latency' } & DeliveryLatency);

/** The answer of report `N`, with the range it covers. */
export type ReportOf<N extends AnalyticsReportName> = Extract<ReportResult, { report: N }> & { range: AnalyticsRange };

/** The last time analytics holds (ClickHouse's DateTime ends in 2106). */
const LAST_MS = Date.parse('2105-12-31T00:00:00Z');

/** A calendar day that exists (2026-02-30 does not), as YYYY-MM-DD. */
const realDay = (day: string): boolean => {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === day;
};

function time(value: string, name: string): number {
  let ms = Number.NaN;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) {
    if (realDay(value)) ms = Date.parse(`${value}T00:00:00Z`);
  } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    // A time names its offset (Z or ±hh:mm): never the server's own time zone.
    if (realDay(value.slice(0, 10))) ms = Date.parse(value);
  }
  if (!Number.isFinite(ms)) throw validationFailed(`${name} must be a date (YYYY-MM-DD) or an ISO-8601 time with its offset (2026-01-31T09:00:00Z).`, { field: name });
  if (ms < 0 || ms > LAST_MS) throw validationFailed(`${name} must be between 1970 and 2105.`, { field: name });
  return ms;
}

/** The range a request asks for, checked. */
export function reportRange(request: ReportRequest, now = Date.now()): AnalyticsRange {
  const to = request.to === undefined ? now : time(request.to, 'to');
  const from = request.from === undefined ? to - DEFAULT_RANGE_DAYS * DAY_MS : time(request.from, 'from');
  if (from >= to) throw validationFailed('from must be before to.', { field: 'from' });
  if (to - from > MAX_RANGE_DAYS * DAY_MS) throw validationFailed(`A report covers at most ${MAX_RANGE_DAYS} days.`, { field: 'from' });
  return { from, to };
}

export class AnalyticsReports {
  readonly #store: Store;
  readonly #analytics: Analytics | null;

  constructor(store: Store, analytics: Analytics | null) {
    this.#store = store;
    this.#analytics = analytics;
  }

  /** Refused unless the user is a server administrator (read on the primary, never cached). */
  async requireAdmin(userId: string): Promise<void> {
    if ((await this.#store.serverRole(userId)) !== 'admin') throw forbidden('Only a server administrator can do this.', { reason: 'server_role' });
  }

  async report<N extends AnalyticsReportName>(userId: string, name: N, request: ReportRequest): Promise<ReportOf<N>> {
    await this.requireAdmin(userId);
    return this.run(name, request);
  }

  /** The report, without a caller (the `parley analytics` command, run by an operator). */
  async run<N extends AnalyticsReportName>(name: N, request: ReportRequest): Promise<ReportOf<N>> {
    // Each case below answers the report it is named for.
    return (await this.#run(name, request)) as ReportOf<N>;
  }

  async #run(name: AnalyticsReportName, request: ReportRequest): Promise<ReportResult & { range: AnalyticsRange }> {
    const range = reportRange(request);
    const analytics = this.#analytics;
    if (analytics === null) throw new AppError('not_found', 'Analytics is not configured on this server (ANALYTICS=clickhouse).');
    const limit = request.limit ?? 100;
    switch (name) {
      case 'messages': {
        // One more than asked: whether rows were left out.
        const rows = await analytics.messagesPerRoomPerDay(range, { roomId: request.roomId, limit: limit + 1 });
        return { report: name, range, rows: rows.slice(0, limit), truncated: rows.length > limit };
      }
      case 'active-users':
        return { report: name, range, ...(await analytics.activeUsers(range)) };
      case 'busiest-rooms': {
        const rooms = await analytics.busiestRooms(range, limit);
        const named: NamedBusyRoom[] = [];
        // Named from the store, a few rooms at a time.
        for (let i = 0; i < rooms.length; i += NAME_LOOKUPS) {
          const chunk = rooms.slice(i, i + NAME_LOOKUPS);
          const found = await Promise.all(chunk.map((r) => this.#store.findRoom(r.roomId)));
          chunk.forEach((r, j) => {
            const room = found[j];
            const visibility = room?.visibility ?? null;
            named.push({ ...r, name: room === undefined || visibility === 'dm' ? null : room.name, visibility });
          });
        }
        return { report: name, range, rooms: named };
      }
      case 'busiest-hours':
        return { report: name, range, hours: await analytics.busiestHours(range) };
      case 'delivery-latency':
        return { report: name, range, ...(await analytics.deliveryLatency(range)) };
    }
  }
}
