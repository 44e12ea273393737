/**
 * A real Prometheus scrapes two Parley nodes (PostgreSQL and Redis) with deploy/prometheus.yml (only its targets and
 * scrape interval changed) and deploy/parley-rules.yml; every expression of the Grafana
 * dashboard (deploy/grafana/parley.json) returns data, and every alert rule loads.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { REDIS_URL, redisPrefix, requireRedis } from '../support/redis.js';
import { freePort, requireBinary } from '../support/services.js';
import { api, createRoom, registerUser, startTestServer, type TestServer } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const PROMETHEUS = ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find((p) => existsSync(p));
const TOKEN = 'scrape-token-for-the-test';

interface Dashboard {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
}

async function query(base: string, expr: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; error?: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  assert.equal(body.status, 'success', `${expr}: ${body.error}`);
  return body.data.result;
}

if (requireBinary(PROMETHEUS, 'prometheus', 'Prometheus against two nodes') && (await requireRedis('Prometheus against two nodes')) && (await requirePostgres('Prometheus against two nodes'))) {
  describe('Prometheus against two nodes', () => {
    const nodes: TestServer[] = [];
    let db: TestDatabase | null = null;
    let prometheus: ChildProcess | null = null;
    let dir = '';
    let promUrl = '';
    const timers: NodeJS.Timeout[] = [];
    const clients: WsTestClient[] = [];

    before(async () => {
      // Two nodes of a fleet: one PostgreSQL, one Redis (sessions, limits, presence, the bus).
      db = await createTestDatabase();
      const prefix = redisPrefix();
      for (let i = 0; i < 2; i++) nodes.push(await startTestServer({ METRICS_TOKEN: TOKEN, DATABASE_URL: db.url, REDIS_URL, REDIS_PREFIX: prefix }));
      // Real traffic on both nodes, going on while Prometheus scrapes.
      for (const node of nodes) {
        const user = await registerUser(node.url, 'prom');
        const roomId = await createRoom(node.url, user);
        const ws = await WsTestClient.connect(node.wsUrl, { token: user.token });
        await ws.request({ type: 'subscribe', roomId });
        clients.push(ws);
        let n = 0;
        const tick = () => {
          void ws.request({ type: 'send', roomId, body: `tick ${n++}` }).catch(() => undefined);
          void api(node.url, 'GET', `/api/v1/rooms/${roomId}/messages?limit=5`, { token: user.token }).catch(() => undefined);
        };
        tick();
        timers.push(setInterval(tick, 200));
      }

      dir = mkdtempSync(path.join(tmpdir(), 'parley-prometheus-'));
      const targets = nodes.map((n) => `          - ${new URL(n.url).host}`).join('\n');
      const config = readFileSync('deploy/prometheus.yml', 'utf8')
        .replace(/(\n\s+- targets:\n)(\s+- .+\n?)+/, `$1${targets}\n`)
        .replace(/scrape_interval: \d+s/, 'scrape_interval: 1s')
        .replace(/evaluation_interval: \d+s/, 'evaluation_interval: 1s');
      assert.ok(config.includes(new URL(nodes[0]?.url as string).host), 'targets not replaced');
      writeFileSync(path.join(dir, 'prometheus.yml'), config);
      copyFileSync('deploy/parley-rules.yml', path.join(dir, 'parley-rules.yml'));
      writeFileSync(path.join(dir, 'parley-metrics-token'), TOKEN);
      const port = await freePort();
      promUrl = `http://127.0.0.1:${port}`;
      let output = '';
      prometheus = spawn(PROMETHEUS as string, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      prometheus.stderr?.on('data', (d: Buffer) => {
        output = (output + d.toString()).slice(-4000);
      });
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (prometheus.exitCode !== null) throw new Error(`prometheus exited with ${prometheus.exitCode}:\n${output}`);
        try {
          if ((await fetch(`${promUrl}/-/ready`)).status === 200) break;
        } catch {
          // not yet
        }
        if (Date.now() > deadline) throw new Error(`prometheus not ready within 30 s:\n${output}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    });

    after(async () => {
      for (const timer of timers) clearInterval(timer);
      for (const c of clients) c.close();
      if (prometheus !== null && prometheus.exitCode === null) {
        const exited = new Promise((r) => prometheus?.once('exit', r));
        prometheus.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
        if (prometheus.exitCode === null) prometheus.kill('SIGKILL');
      }
      for (const node of nodes) await node.stop();
      await db?.drop();
      if (dir !== '') rmSync(dir, { recursive: true, force: true });
    });

    it('scrapes both nodes with the token, and every dashboard expression returns data', async () => {
      // Both targets up, with enough samples for rates over 30 s windows.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const up = await query(promUrl, 'count_over_time(up{job="parley"}[1m]) >= 6 and up{job="parley"} == 1');
        if (up.length === 2) break;
        if (Date.now() > deadline) throw new Error(`targets not up: ${JSON.stringify(await query(promUrl, 'up'))}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      const dashboard = JSON.parse(readFileSync('deploy/grafana/parley.json', 'utf8')) as Dashboard;
      const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr.replaceAll('$__rate_interval', '30s') })));
      assert.ok(exprs.length >= 16, 'the dashboard has its panels');
      const empty: string[] = [];
      for (const { panel, expr } of exprs) if ((await query(promUrl, expr)).length === 0) empty.push(`${panel}: ${expr}`);
      assert.deepEqual(empty, [], 'dashboard expressions without data');

      // The traffic is seen: messages on both nodes, summed.
      const sent = await query(promUrl, 'sum by (instance) (increase(parley_messages_sent_total[30s]))');
      assert.equal(sent.length, 2);
      for (const s of sent) assert.ok(Number(s.value[1]) > 0, `no messages counted on ${s.metric.instance}`);
    });

    it('loads every alert rule of deploy/parley-rules.yml', async () => {
      const res = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> } };
      const rules = res.data.groups.flatMap((g) => g.rules);
      // Every rule of the file, loaded.
      assert.equal(rules.length, (readFileSync('deploy/parley-rules.yml', 'utf8').match(/^\s*- alert: /gm) ?? []).length);
      assert.ok(rules.length >= 13);
      // Evaluated at least once without error.
      const deadline = Date.now() + 10_000;
      let unhealthy = rules.filter((r) => r.health !== 'ok');
      while (unhealthy.length > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        const again = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as typeof res;
        unhealthy = again.data.groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok');
      }
      assert.deepEqual(
        unhealthy.map((r) => r.name),
        [],
      );
    });
  });
}
