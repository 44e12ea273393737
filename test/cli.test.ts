/** The parley command, run as a real process. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

function run(args: string[], env: Record<string, string> = {}, untilLine?: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { env: { ...process.env, LOG_LEVEL: 'info', ...env } });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!signalled && untilLine?.test(stdout)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // 'close', not 'exit': only then has all of the child's output been read.
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('parley CLI', () => {
  it('--help lists the commands and every variable', async () => {
    const { code, stdout } = await run(['--help']);
    assert.equal(code, 0);
    assert.match(stdout, /start\s+Start the server/);
    assert.match(stdout, /migrate/);
    assert.match(stdout, /DATABASE_URL/);
  });

  it('an unknown command exits 2 with the help', async () => {
    const { code, stderr } = await run(['fly']);
    assert.equal(code, 2);
    assert.match(stderr, /unknown command "fly"/);
  });

  it('a bad variable is named and the exit status is non-zero', async () => {
    const { code, stderr } = await run(['start'], { PORT: 'abc' });
    assert.equal(code, 78);
    assert.match(stderr, /configuration error: PORT must be an integer/);
  });

  it('regression: PARLEY_DATA_DIR no longer starts the server on ./data; it exits 78 naming DATA_DIR', async () => {
    const { code, stdout, stderr } = await run(['start'], { PARLEY_DATA_DIR: '/nonexistent/parley' });
    assert.equal(code, 78);
    assert.match(stderr, /configuration error: PARLEY_DATA_DIR is not a Parley setting .*did you mean DATA_DIR\?/);
    assert.doesNotMatch(stdout, /parley listening/);
  });

  it('migrate brings an empty data directory up to date, twice', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-cli-'));
    try {
      for (let i = 0; i < 2; i++) {
        const { code, stdout } = await run(['migrate'], { DATA_DIR: dir });
        assert.equal(code, 0);
        assert.match(stdout, /schema is up to date/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('start listens, and SIGTERM stops it with exit 0', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-cli-'));
    try {
      const { code, stdout } = await run(['start'], { DATA_DIR: dir, PORT: '0', SCRYPT_COST: '10' }, /parley listening/);
      assert.match(stdout, /parley listening/);
      assert.match(stdout, /parley stopped/);
      assert.equal(code, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
