/**
 * `parley analytics …`: the reports of the admin REST endpoints, for an operator at a shell, and
 * the analytics consumer's upkeep. Answers on stdout as JSON.
 *
 *   parley analytics <report> [--from D] [--to D] [--room ID] [--limit N]
 *   parley analytics status                  rows in ClickHouse, the consumer group's lag
 *   parley analytics replay [--from-offset N] [--clear --yes]
 *
 * A replay rewinds the `analytics` group of the event log to offset N (default: the first
 * record the log holds); every node's consumer then writes from there again, and since a row
 * written again is the same row, nothing is counted twice. `--clear` empties the tables first (a
 * rebuild): what the log no longer holds (older than EVENT_LOG_MAX_AGE_HOURS) is then gone from
 * analytics too, so it asks for `--yes`.
 */
import { parseArgs } from 'node:util';
import { JetStreamLog } from '../adapters/nats/event-log.js';
import type { Config } from '../config.js';
import { ANALYTICS_REPORTS, type AnalyticsReportName, AnalyticsReports } from '../domain/analytics-reports.js';
import type { Logger } from '../observability/log.js';
import { ANALYTICS_GROUP } from '../pipeline/analytics-consumer.js';
import { analyticsOf, jetStreamLogOptions } from '../pipeline/open.js';
import type { Store } from '../ports.js';

const USAGE = `usage: parley analytics <report> [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--room ID] [--limit N]
         reports: ${ANALYTICS_REPORTS.join(', ')}
       parley analytics status
       parley analytics replay [--from-offset N] [--clear --yes]
`;

export interface AnalyticsCommandDeps {
  /** The store to name rooms from, and how to let go of it. */
  openStore(): Promise<{ store: Store; close(): Promise<void> }>;
  out?(line: string): void;
}

export async function runAnalyticsCommand(args: string[], config: Config, log: Logger, deps: AnalyticsCommandDeps): Promise<number> {
  const out = deps.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const fail = (message: string, code = 2) => {
    process.stderr.write(`parley analytics: ${message}\n`);
    return code;
  };
  const [action, ...rest] = args;
  let flags: ReturnType<typeof parse>;
  const parse = (argv: string[]) =>
    parseArgs({
      args: argv,
      strict: true,
      options: { from: { type: 'string' }, to: { type: 'string' }, room: { type: 'string' }, limit: { type: 'string' }, 'from-offset': { type: 'string' }, clear: { type: 'boolean' }, yes: { type: 'boolean' } },
    }).values;
  try {
    flags = parse(rest);
  } catch (error) {
    return fail(`${(error as Error).message}\n${USAGE}`);
  }
  if (action === undefined) return fail(USAGE);
  const analytics = analyticsOf(config);
  if (analytics === null) return fail('ANALYTICS is none: set ANALYTICS=clickhouse and ANALYTICS_URL.', 78);

  if (action === 'status' || action === 'replay') {
    const eventLog = await JetStreamLog.open(jetStreamLogOptions(config, (error, context) => log.warn({ err: error, context }, 'event log')));
    try {
      if (action === 'status') {
        const counts = await analytics.counts().catch((error: unknown) => ({ error: String((error as Error).message ?? error) }));
        const lag = await eventLog.lag(ANALYTICS_GROUP).catch((error: unknown) => ({ error: String((error as Error).message ?? error) }));
        out(JSON.stringify({ analytics: counts, group: ANALYTICS_GROUP, lag }));
        return 0;
      }
      const raw = flags['from-offset'] ?? '1';
      if (!/^\d{1,15}$/.test(raw) || Number(raw) < 1) return fail('--from-offset must be a log offset, 1 or more.');
      if (flags.clear === true && flags.yes !== true) return fail('--clear empties the analytics tables; what the event log no longer holds is then gone for good. Add --yes to go on.');
      if (flags.clear === true) {
        await analytics.prepare();
        await analytics.clear();
      }
      try {
        await eventLog.rewind(ANALYTICS_GROUP, Number(raw));
      } catch (error) {
        if (/not found/i.test(String((error as Error).message ?? error))) {
          out(JSON.stringify({ replay: 'no analytics group yet: the first node that runs it starts at the first record', cleared: flags.clear === true }));
          return 0;
        }
        const emptied = flags.clear === true ? ' The tables were emptied: run this command again (without --clear) to write the log to them.' : '';
        return fail(`the analytics group was not moved back: ${(error as Error).message}.${emptied}`, 69);
      }
      out(JSON.stringify({ replay: ANALYTICS_GROUP, fromOffset: Number(raw), cleared: flags.clear === true }));
      return 0;
    } finally {
      await eventLog.close();
    }
  }

  if (!(ANALYTICS_REPORTS as readonly string[]).includes(action)) return fail(`unknown report "${action}"\n${USAGE}`);
  if (flags.limit !== undefined && !/^\d{1,4}$/.test(flags.limit)) return fail('--limit must be a number from 1 to 1000.');
  const limit = flags.limit === undefined ? undefined : Number(flags.limit);
  if (limit !== undefined && (limit < 1 || limit > 1000)) return fail('--limit must be a number from 1 to 1000.');
  const { store, close } = await deps.openStore();
  try {
    const reports = new AnalyticsReports(store, analytics);
    const result = await reports.run(action as AnalyticsReportName, { from: flags.from, to: flags.to, roomId: flags.room, limit });
    const { range, ...rest } = result;
    out(JSON.stringify({ ...rest, from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString() }));
    return 0;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'validation_failed' || code === 'not_found' || code === 'unavailable') return fail((error as Error).message, code === 'unavailable' ? 69 : 2);
    throw error;
  } finally {
    await close();
  }
}
