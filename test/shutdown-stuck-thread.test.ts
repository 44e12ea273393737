/**
 * regression: a process whose store thread was stuck in a native SQLite call did not exit when
 * its shutdown deadline passed (process.exit waits for worker threads, and a thread inside
 * SQLite never returns to JavaScript to be stopped). The store thread is made to hang the way
 * it did: a statement that runs on inside SQLite, here a trigger on sessions that never ends.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { freePort } from './support/services.js';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function parley(args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<Exit> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, LOG_LEVEL: 'info', SCRYPT_COST: '10', ...env } });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  // 'close', not 'exit': only then has all of the child's output been read.
  const exited = new Promise<Exit>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited };
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('shutdown with a stuck store thread', () => {
  it('regression: the process still exits after its shutdown deadline', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-stuck-'));
    let server: ReturnType<typeof parley> | null = null;
    try {
      const migrated = parley(['migrate'], { DATA_DIR: dir });
      assert.equal((await migrated.exited).code, 0, migrated.output());
      const file = path.join(dir, 'parley.db');
      assert.ok(existsSync(file));
      const db = new Sqlite(file);
      db.exec(`CREATE TRIGGER sessions_never_end AFTER INSERT ON sessions BEGIN
        SELECT max(x) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c);
      END`);

      const port = await freePort();
      server = parley(['start'], { DATA_DIR: dir, PORT: String(port), SHUTDOWN_TIMEOUT_MS: '1000' });
      const current = server;
      await until(() => current.output().includes('parley listening'), 'the server listens');

      // Registering stores the user, then its session: the trigger holds the store's thread.
      const username = `stuck${process.pid}`;
      const register = fetch(`http://127.0.0.1:${port}/api/v1/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username, password: 'correct horse battery' }),
        signal: AbortSignal.timeout(60_000),
      }).catch((error: unknown) => error);
      const users = db.prepare('SELECT count(*) AS n FROM users WHERE username = ?');
      await until(() => (users.get(username) as { n: number }).n === 1, 'the user is stored');
      // The session's insert follows at once on the same thread; give it the moment to start.
      await new Promise((r) => setTimeout(r, 500));
      db.close();

      current.child.kill('SIGTERM');
      // Without the fix this never resolves: the bound only turns a hang into a failure.
      let bound: NodeJS.Timeout | undefined;
      const exit = await Promise.race([current.exited, new Promise<'hung'>((r) => (bound = setTimeout(() => r('hung'), 30_000)))]);
      clearTimeout(bound);
      assert.notEqual(exit, 'hung', `the process did not exit; its output:\n${current.output()}`);
      const { code, signal } = exit as Exit;
      assert.ok(signal === 'SIGKILL' || code === 1, `exit ${code} ${signal}`);
      assert.match(current.output(), /shutdown deadline passed/);
      assert.match(current.output(), /stuck in a native call/);
      await register;
    } finally {
      if (server !== null && server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
