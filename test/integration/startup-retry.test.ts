/**
 * A dependency that comes up after Parley (booting together): the start waits for it, retrying
 * with backoff up to STARTUP_CONNECT_ATTEMPTS; with one attempt it fails at once, as before.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { startParley } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { captureLogs } from '../support/log-capture.js';
import { api } from '../support/server.js';
import { REDIS_SERVER, requireBinary, startRedis } from '../support/services.js';

if (requireBinary(REDIS_SERVER, 'redis-server', 'Start-up retries')) {
  it('waits for a Redis that starts after it (retrying with backoff), and fails at once with STARTUP_CONNECT_ATTEMPTS=1', async () => {
    const redis = await startRedis();
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-startup-'));
    const logs = captureLogs('warn');
    try {
      await redis.halt();
      await assert.rejects(startParley(testConfig({ PORT: 0, DATA_DIR: dir, REDIS_URL: redis.url, STARTUP_CONNECT_ATTEMPTS: 1 }), logs.log));
      assert.equal(logs.lines.filter((l) => l.msg === 'redis not reachable at start; retrying').length, 0);

      // Many attempts (their waits are random); Redis comes up once the start has retried once.
      const starting = startParley(testConfig({ PORT: 0, DATA_DIR: dir, REDIS_URL: redis.url, STARTUP_CONNECT_ATTEMPTS: 20 }), logs.log);
      const failed = starting.then(
        () => 'started without Redis',
        (error: unknown) => `failed: ${String(error)}`,
      );
      const retried = (async () => {
        const deadline = Date.now() + 30_000;
        while (!logs.lines.some((l) => l.msg === 'redis not reachable at start; retrying')) {
          if (Date.now() > deadline) return 'no retry logged within 30 s';
          await new Promise((r) => setTimeout(r, 20));
        }
        return 'retried';
      })();
      assert.equal(await Promise.race([retried, failed]), 'retried');
      await redis.start();
      const parley = await starting;
      try {
        assert.equal((await api(parley.url, 'GET', '/healthz')).status, 200);
        const deadline = Date.now() + 20_000;
        while ((await api(parley.url, 'GET', '/readyz')).status !== 200) {
          assert.ok(Date.now() < deadline, 'ready once its bus works');
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        await parley.close();
      }
    } finally {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
