/**
 * deploy/ecosystem.config.cjs under the real pm2 (node_modules/.bin/pm2, a daemon of the test's
 * own in a temporary PM2_HOME, never a global one): Parley's supervisor starts under pm2, and the
 * documented reload, `pm2 sendSignal SIGHUP parley`, replaces every worker while clients send
 * and new connections keep opening: no connection refused, every send acknowledged, every
 * acknowledged message in the history afterwards, stored once, and pm2 never restarted the app.
 *
 * `pm2 reload parley` is not the reload tested: for an app in fork mode pm2 turns it into a
 * restart (stop, then start), so the port has no listener from the moment the supervisor
 * drains until the new one listens (see deploy/ecosystem.config.cjs).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RETIRE_MARGIN_MS } from '../../src/cluster/supervisor.js';
import { OPTIONS } from '../../src/config.js';
import { until } from '../support/files.js';
import { parleyChildren } from '../support/fleet.js';
import { api } from '../support/server.js';
import { freePort, requireBinary } from '../support/services.js';
import { refusal, SendingClient } from '../support/ws-sender.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const PM2 = [path.join(ROOT, 'node_modules', '.bin', 'pm2')].find((p) => existsSync(p));
const DEPLOY = path.join(ROOT, 'deploy', 'ecosystem.config.cjs');

interface Pm2App {
  name: string;
  script: string;
  args: string;
  exec_mode: string;
  instances: number;
  kill_timeout: number;
  env: Record<string, string>;
  [key: string]: unknown;
}

/**
 * The deploy file's app with only what this machine needs changed, written as a copy: the
 * deploy file names PostgreSQL and Redis at fixed addresses and port 3000 on every interface;
 * here the embedded store in a temporary DATA_DIR, a free port on loopback, and two workers
 * (`auto` on a one-core runner would be a single process, with no supervisor to reload). Its
 * script runs the built CLI (dist/, which tests do not build): the same CLI runs from source
 * through tsx, as every other test runs it. Name, mode, instances and kill_timeout are the
 * deploy file's own.
 */
function testCopy(deploy: Pm2App, port: number, dir: string): Pm2App {
  const env: Record<string, string> = { ...deploy.env, HOST: '127.0.0.1', PORT: String(port), DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: 'info', SCRYPT_COST: '10', SEND_RATE_PER_SEC: '1000', SEND_BURST: '1000' };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  return {
    ...deploy,
    cwd: ROOT,
    script: 'src/cli.ts',
    // pm2 runs a .ts script with bun unless told otherwise.
    interpreter: process.execPath,
    node_args: ['--import', 'tsx'],
    args: deploy.args.replace('--workers auto', '--workers 2'),
    out_file: path.join(dir, 'out.log'),
    error_file: path.join(dir, 'error.log'),
    // One file each, not one per pm2 id (out-0.log).
    merge_logs: true,
    env,
  };
}

/** A new TCP connection for every request (no keep-alive pool): each one tests the listener. */
function freshGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

if (requireBinary(PM2, 'pm2 (npm install)', 'pm2')) {
  describe('pm2 running deploy/ecosystem.config.cjs', { concurrency: false }, () => {
    let dir: string;
    let base: string;
    /** pm2's CLI with the test's own PM2_HOME; rejects with its output on a non-zero exit. */
    let pm2: (...args: string[]) => Promise<string>;
    const deploy = (createRequire(import.meta.url)(DEPLOY) as { apps: Pm2App[] }).apps[0] as Pm2App;
    const appPid = async (): Promise<{ pid: number; restarts: number; status: string }> => {
      const list = JSON.parse(await pm2('jlist')) as Array<{ name: string; pid: number; pm2_env: { restart_time: number; status: string } }>;
      const app = list.find((a) => a.name === 'parley');
      return { pid: app?.pid ?? 0, restarts: app?.pm2_env.restart_time ?? -1, status: app?.pm2_env.status ?? 'missing' };
    };
    const logs = () => ['out.log', 'error.log'].map((f) => (existsSync(path.join(dir, f)) ? readFileSync(path.join(dir, f), 'utf8') : '')).join('\n');

    before(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'parley-pm2-'));
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      // pm2 hands its own environment to the apps it starts: none of a developer's service
      // variables may reach the node under test.
      const env: NodeJS.ProcessEnv = { ...process.env, PM2_HOME: path.join(dir, 'home') };
      for (const name of ['DATABASE_URL', 'REDIS_URL', 'NATS_URL', 'DATA_DIR', 'WORKERS']) delete env[name];
      pm2 = (...args) =>
        new Promise((resolve, reject) => {
          execFile(PM2 as string, args, { cwd: ROOT, env, timeout: 60_000 }, (error, stdout, stderr) => (error === null ? resolve(stdout) : reject(new Error(`pm2 ${args.join(' ')}: ${error.message}\n${stdout}${stderr}`))));
        });
      // A config file by pm2's rules: its name must end in .config.cjs, or pm2 runs it as an app.
      const file = path.join(dir, 'ecosystem.config.cjs');
      writeFileSync(file, `module.exports = ${JSON.stringify({ apps: [testCopy(deploy, port, dir)] }, null, 2)};\n`);
      await pm2('start', file);
      await until('the node ready under pm2', async () => (await fetch(`${base}/readyz`).then((r) => r.status, () => 0)) === 200 && logs().includes('"msg":"cluster ready"'), 90_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${logs().slice(-4000)}`);
      });
    });

    after(async () => {
      if (dir === undefined) return;
      // Every process pm2 started, and pm2 itself, found before asking it to stop them: if the
      // kill fails, they are killed here by pid. The kill runs whatever happened before it.
      const commandOf = (pid: number) => (existsSync(`/proc/${pid}/cmdline`) ? readFileSync(`/proc/${pid}/cmdline`, 'utf8') : null);
      let found: Array<{ pid: number; command: string | null }> = [];
      try {
        const daemon = Number(existsSync(path.join(dir, 'home', 'pm2.pid')) ? readFileSync(path.join(dir, 'home', 'pm2.pid'), 'utf8') : 0);
        const app = (await appPid()).pid;
        found = [daemon, app, ...(app > 0 ? parleyChildren(app) : [])].filter((p) => p > 0).map((pid) => ({ pid, command: commandOf(pid) }));
      } finally {
        try {
          await pm2('kill');
        } finally {
          // Only a process still running the same command: never one that took a freed pid.
          for (const { pid, command } of found) {
            try {
              if (command !== null && commandOf(pid) === command) process.kill(pid, 'SIGKILL');
            } catch {
              // gone meanwhile, as it should be
            }
          }
          rmSync(dir, { recursive: true, force: true });
        }
      }
    });

    it('keeps Parley\'s own supervisor in one forked process, and waits for its drain before killing it', () => {
      assert.equal(deploy.name, 'parley', 'the name the documented commands use');
      assert.equal(deploy.exec_mode, 'fork', 'pm2\'s cluster mode would bypass Parley\'s supervisor');
      assert.equal(deploy.instances, 1);
      assert.match(deploy.args, /^start --workers auto$/);
      // pm2 sends SIGINT, then SIGKILL after kill_timeout: the supervisor's own deadline
      // (each worker's SHUTDOWN_TIMEOUT_MS and the kill margin, then two seconds) must fit.
      const shutdown = Number(OPTIONS.SHUTDOWN_TIMEOUT_MS.default);
      assert.ok(deploy.kill_timeout > shutdown + RETIRE_MARGIN_MS + 2_000, `kill_timeout ${deploy.kill_timeout} ms cuts the drain short`);
    });

    it('pm2 sendSignal SIGHUP parley reloads every worker under traffic: nothing refused, every send acknowledged and stored once', async (t) => {
      const owner = await api(base, 'POST', '/api/v1/auth/register', { body: { username: 'pm2_owner', password: 'correct horse battery' } });
      assert.equal(owner.status, 201);
      const token = owner.body.token as string;
      const room = await api(base, 'POST', '/api/v1/rooms', { token, body: { name: 'pm2', visibility: 'public' } });
      const roomId = room.body.room.id as string;
      const before = await appPid();
      const workersBefore = parleyChildren(before.pid);
      assert.equal(workersBefore.length, 2, 'two workers under the supervisor');

      const wsUrl = `${base.replace('http', 'ws')}/ws`;
      const senders = Array.from({ length: 4 }, (_, i) => new SendingClient(wsUrl, token, roomId, `s${i}`));
      const failures: string[] = [];
      let stop = false;
      let opened = 0;
      /** New sockets the protocol told to connect again (a 503 or 1012 from a draining worker). */
      const probesRetried: string[] = [];
      // New connections all along: a WebSocket opened, pinged and closed, and a plain GET on a
      // connection of its own, one after the other.
      const churn = (async () => {
        while (!stop) {
          try {
            const probe = await SendingClient.probe(wsUrl, token);
            if (probe !== 'pong') probesRetried.push(probe);
            const status = await freshGet(`${base}/healthz`);
            if (status !== 200) failures.push(`GET /healthz ${status}`);
            opened += 2;
          } catch (error) {
            failures.push(refusal(error));
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const sending = senders.map((s) => s.run(() => stop));

      await until('some sends acknowledged before the reload', () => senders.every((s) => s.acked.length >= 5), 30_000);
      await pm2('sendSignal', 'SIGHUP', 'parley');
      await until('the supervisor reloaded every worker', () => logs().includes('"msg":"rolling reload done"'), 60_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${logs().slice(-4000)}`);
      });
      const acksAtReload = senders.map((s) => s.acked.length);
      await until('sends acknowledged after the reload', () => senders.every((s, i) => s.acked.length >= (acksAtReload[i] as number) + 5), 30_000);
      stop = true;
      await churn;
      await Promise.all(sending);

      const after = await appPid();
      assert.deepEqual({ pid: after.pid, restarts: after.restarts, status: after.status }, { pid: before.pid, restarts: before.restarts, status: 'online' }, 'pm2 restarted the supervisor');
      const workersAfter = parleyChildren(after.pid);
      assert.equal(workersAfter.length, 2);
      assert.deepEqual(workersAfter.filter((p) => workersBefore.includes(p)), [], 'a worker was not replaced');

      for (const s of senders) failures.push(...s.failures);
      assert.deepEqual(failures, [], 'a connection was refused or a send failed');
      assert.ok(opened > 0, 'no new connection was opened during the test');
      // A send may be sent again, with its clientMsgId, only where the protocol says to: after
      // an `unavailable` reply, or when its connection closed (1012) before the reply.
      for (const s of senders) for (const reason of s.retries) assert.match(reason, /^(unavailable|closed 1012|upgrade answered 503)/, `a send retried for ${reason}`);
      const retries = senders.flatMap((s) => s.retries);
      t.diagnostic(`${senders.reduce((n, s) => n + s.acked.length, 0)} sends acknowledged, ${opened} connections opened; retried as the protocol allows: ${retries.length} sends (${[...new Set(retries)].join(', ') || 'none'}), ${probesRetried.length} new sockets (${[...new Set(probesRetried)].join(', ') || 'none'})`);
      assert.ok(probesRetried.length < opened / 2, 'most new sockets were told to connect again');

      // The history, oldest first, page by page: every acknowledged message, each stored once.
      const stored = new Map<string, number>();
      for (let after = 0; ; ) {
        const page = await api(base, 'GET', `/api/v1/rooms/${roomId}/messages?after=${after}&limit=100`, { token });
        assert.equal(page.status, 200);
        const messages = page.body.messages as Array<{ seq: number; clientMsgId: string | null }>;
        for (const m of messages) if (m.clientMsgId !== null) stored.set(m.clientMsgId, (stored.get(m.clientMsgId) ?? 0) + 1);
        if (page.body.hasMore !== true || messages.length === 0) break;
        after = (messages.at(-1) as { seq: number }).seq;
      }
      const acked = senders.flatMap((s) => s.acked);
      assert.ok(acked.length >= 40, `only ${acked.length} sends acknowledged`);
      for (const { clientMsgId, seq } of acked) assert.equal(stored.get(clientMsgId), 1, `acknowledged message ${clientMsgId} (seq ${seq}) stored ${stored.get(clientMsgId) ?? 0} times`);
      assert.equal(stored.size, acked.length, 'a message was stored that was never acknowledged');
    });
  });
}
