/** Server administration: the analytics reports (server administrators only). */
import type { AnalyticsReportName, ReportRequest } from '../../domain/analytics-reports.js';
import { responses } from '../../protocol/responses.js';
import type { HttpContext } from '../context.js';
import type { RestApi } from '../route.js';

const iso = (ms: number) => new Date(ms).toISOString();

export function adminRoutes(api: RestApi, ctx: HttpContext): void {
  const { analytics } = ctx.services;
  const { rest } = ctx.schemas;
  const tag = 'Administration';
  const common =
    'Server administrators only (`parley admin grant`): anyone else is `forbidden` (`details.reason: "server_role"`), before the report is read. ' +
    'Read from analytics (ClickHouse), which the event log feeds within seconds; `not_found` when the server has no analytics, `unavailable` while it is down. ' +
    'Days and hours are UTC; `from` is included and `to` excluded.';
  const errors = ['forbidden', 'not_found', 'unavailable'] as const;
  const report = <N extends AnalyticsReportName>(name: N, session: { user: { id: string } }, query: ReportRequest) => analytics.report(session.user.id, name, query);

  api.route({
    method: 'GET',
    path: '/api/v1/admin/analytics/messages',
    operationId: 'analyticsMessages',
    tag,
    summary: 'Messages per room per day',
    description: `${common} Each message counted once, deleted ones included. \`truncated\`: more rows than \`limit\` (the latest days are the ones left out).`,
    auth: true,
    query: rest.analyticsQuery,
    status: 200,
    response: responses.AnalyticsMessages,
    errors,
    handler: async ({ session, query }) => {
      const r = await report('messages', session, query);
      return { from: iso(r.range.from), to: iso(r.range.to), rows: r.rows, truncated: r.truncated };
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/admin/analytics/active-users',
    operationId: 'analyticsActiveUsers',
    tag,
    summary: 'Daily and monthly active users',
    description: `${common} Active: sent, edited or deleted a message or reacted, connected a WebSocket or logged in. Bots are not counted.`,
    auth: true,
    query: rest.analyticsQuery,
    status: 200,
    response: responses.AnalyticsActiveUsers,
    errors,
    handler: async ({ session, query }) => {
      const r = await report('active-users', session, query);
      return { from: iso(r.range.from), to: iso(r.range.to), daily: r.daily, monthly: r.monthly };
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/admin/analytics/busiest-rooms',
    operationId: 'analyticsBusiestRooms',
    tag,
    summary: 'Busiest rooms',
    description: `${common} Rooms by messages sent in the range; a direct-message room is shown without its name.`,
    auth: true,
    query: rest.analyticsQuery,
    status: 200,
    response: responses.AnalyticsBusiestRooms,
    errors,
    handler: async ({ session, query }) => {
      const r = await report('busiest-rooms', session, query);
      return { from: iso(r.range.from), to: iso(r.range.to), rooms: r.rooms };
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/admin/analytics/busiest-hours',
    operationId: 'analyticsBusiestHours',
    tag,
    summary: 'Busiest hours of the day',
    description: `${common} Messages sent in each hour of the day (UTC) over the range.`,
    auth: true,
    query: rest.analyticsQuery,
    status: 200,
    response: responses.AnalyticsBusiestHours,
    errors,
    handler: async ({ session, query }) => {
      const r = await report('busiest-hours', session, query);
      return { from: iso(r.range.from), to: iso(r.range.to), hours: r.hours };
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/admin/analytics/delivery-latency',
    operationId: 'analyticsDeliveryLatency',
    tag,
    summary: 'Delivery latency percentiles',
    description:
      `${common} From an event's commit to its frame being handed to each live subscriber's socket (not a resume's replay), over every node, one count per delivery; ` +
      'each node sends its histogram every 10 s. A percentile is the upper bound of the histogram bucket it falls in (1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750 ms, 1, 1.5, 2, 3, 5, 10, 30, 60 s; the last holds everything slower).',
    auth: true,
    query: rest.analyticsQuery,
    status: 200,
    response: responses.AnalyticsDeliveryLatency,
    errors,
    handler: async ({ session, query }) => {
      const r = await report('delivery-latency', session, query);
      const { report: _, range, ...latency } = r;
      return { from: iso(range.from), to: iso(range.to), ...latency };
    },
  });
}
