/**
 * deploy/grafana/parley-analytics.json against a real ClickHouse: every panel's SQL, with the
 * ClickHouse data source's macros put in as Grafana would, runs on the tables the analytics
 * consumer writes and answers rows from sample data.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClickHouseAnalytics } from '../../src/adapters/clickhouse/analytics.js';
import { ClickHouseHttp } from '../../src/adapters/clickhouse/http.js';
import { CLICKHOUSE_SERVER, requireBinary, type ServerHandle, startClickHouse } from '../support/services.js';

interface Panel {
  title: string;
  datasource: { type: string };
  targets: Array<{ rawSql: string }>;
}

const dashboard = JSON.parse(readFileSync(path.join(import.meta.dirname, '../../deploy/grafana/parley-analytics.json'), 'utf8')) as { panels: Panel[]; templating: { list: Array<{ name: string }> } };

/** The macros of the grafana-clickhouse-datasource plugin, as it expands them. */
function expand(sql: string, fromS: number, toS: number, database: string): string {
  return sql
    .replace(/\$\{database\}/g, database)
    .replace(/\$__timeFilter\((\w+)\)/g, (_, column: string) => `${column} >= toDateTime(${fromS}) AND ${column} <= toDateTime(${toS})`)
    .replaceAll('$__fromTime', `toDateTime(${fromS})`)
    .replaceAll('$__toTime', `toDateTime(${toS})`);
}

if (requireBinary(CLICKHOUSE_SERVER, 'clickhouse-server', 'Grafana analytics dashboard')) {
  describe('the Grafana analytics dashboard', () => {
    let server: ServerHandle;
    const now = Date.now();

    before(async () => {
      server = await startClickHouse();
      const analytics = new ClickHouseAnalytics({ url: server.url, database: 'dash', timeoutMs: 5_000 });
      await analytics.prepare();
      await analytics.write({
        events: [
          { roomId: 'r1', seq: 1, kind: 'message', userId: 'u1', bot: false, at: now - 3_600_000 },
          { roomId: 'r1', seq: 2, kind: 'message', userId: 'u2', bot: false, at: now - 60_000 },
        ],
        ops: [
          { id: 'o1', name: 'login.succeeded', node: 'n', userId: 'u3', bot: false, at: now - 120_000, data: '{}' },
          { id: 'o2', name: 'job.completed', node: 'n', userId: '', bot: false, at: now - 120_000, data: '{"queue":"webhooks"}' },
        ],
        latency: [{ id: 'w1', node: 'n', at: now - 30_000, leMs: 5, deliveries: 10 }],
      });
    });
    after(async () => {
      await server?.stop();
    });

    it('declares its data source and database variables, and every panel reads ClickHouse', () => {
      assert.deepEqual(
        dashboard.templating.list.map((v) => v.name),
        ['datasource', 'database'],
      );
      assert.ok(dashboard.panels.length >= 8);
      for (const panel of dashboard.panels) {
        assert.equal(panel.datasource.type, 'grafana-clickhouse-datasource', panel.title);
        assert.equal(panel.targets.length, 1, panel.title);
      }
    });

    it('every panel\'s query runs and answers rows', async () => {
      const ch = new ClickHouseHttp({ url: server.url, timeoutMs: 5_000 });
      const fromS = Math.floor((now - 7 * 86_400_000) / 1000);
      const toS = Math.floor(now / 1000) + 60;
      for (const panel of dashboard.panels) {
        const sql = expand(panel.targets[0]?.rawSql ?? '', fromS, toS, 'dash');
        assert.doesNotMatch(sql, /\$/, `${panel.title}: a macro left unexpanded`);
        const rows = await ch.query<Record<string, unknown>>(sql);
        assert.ok(rows.length > 0, `${panel.title}: no rows`);
      }
    });
  });
}
