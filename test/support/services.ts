/**
 * Private Redis, NATS and memcached servers for tests that break them (kill connections, restart the
 * server): each on its own free port, so the shared services on the standard ports stay
 * untouched. The binaries come from the machine's packages; without them a suite skips on a
 * developer's machine and fails in CI.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

const which = (names: string[]): string | undefined => names.find((p) => existsSync(p));

export const REDIS_SERVER = which(['/usr/bin/redis-server', '/usr/local/bin/redis-server']);
export const NATS_SERVER = which(['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']);
export const MEMCACHED = which(['/usr/bin/memcached', '/usr/local/bin/memcached']);
export const CLICKHOUSE_SERVER = which(['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server', '/usr/bin/clickhouse']);

/** True when `binary` exists; otherwise registers a skipped (or, in CI, failing) test saying so. */
export function requireBinary(binary: string | undefined, what: string, suite: string): binary is string {
  if (binary !== undefined) return true;
  const reason = `${what} is not installed`;
  if (process.env.CI === 'true') {
    test(`${suite}: ${what} is required in CI`, () => {
      throw new Error(reason);
    });
  } else {
    test(`${suite} (${what})`, (t) => t.skip(reason));
  }
  return false;
}

/** Resolves once something listens on `port`; rejects if `child` exits first or after `timeoutMs`. */
export async function waitForPort(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface ServerHandle {
  url: string;
  port: number;
  /** Stops the server (SIGKILL when `hard`) and starts it again on the same port. */
  restart(options?: { hard?: boolean; downMs?: number }): Promise<void>;
  /** Stops the server (SIGKILL when `hard`), keeping its port and directory for `start`. */
  halt(options?: { hard?: boolean }): Promise<void>;
  /** Starts a halted server again on the same port. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function managed(command: string, args: (port: number, dir: string) => string[], scheme: string): Promise<ServerHandle> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-svc-'));
  let child: ChildProcess;
  const start = async () => {
    child = spawn(command, args(port, dir), { stdio: 'ignore' });
    await waitForPort(port, child);
  };
  const halt = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  };
  await start();
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    async restart(options = {}) {
      await halt(options.hard === true ? 'SIGKILL' : 'SIGTERM');
      if (options.downMs !== undefined) await new Promise((r) => setTimeout(r, options.downMs));
      await start();
    },
    halt: (options = {}) => halt(options.hard === true ? 'SIGKILL' : 'SIGTERM'),
    start,
    async stop() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A Redis of the test's own. Without persistence (the default) a restart empties it; with
 * `appendOnly`, every write it acknowledged is in its append-only file (in the page cache, so it
 * survives even a SIGKILL of the server) and a restart reloads it.
 */
export function startRedis(options: { appendOnly?: boolean } = {}): Promise<ServerHandle> {
  const appendOnly = options.appendOnly === true ? 'yes' : 'no';
  return managed(
    REDIS_SERVER as string,
    (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', appendOnly, '--dir', dir],
    'redis',
  );
}

/** A NATS server of the test's own; with `jetStream`, its store is in the server's directory (kept across restarts). */
export function startNats(options: { jetStream?: boolean } = {}): Promise<ServerHandle> {
  const js = (dir: string) => (options.jetStream === true ? ['-js', '-sd', dir] : []);
  return managed(NATS_SERVER as string, (port, dir) => ['-a', '127.0.0.1', '-p', String(port), ...js(dir)], 'nats');
}

/** A memcached of the test's own, 64 MB, on loopback (as root it must be told which user to run as). */
export function startMemcached(): Promise<ServerHandle> {
  const asRoot = process.getuid?.() === 0 ? ['-u', 'root'] : [];
  return managed(MEMCACHED as string, (port) => ['-p', String(port), '-l', '127.0.0.1', '-U', '0', '-m', '64', ...asRoot], 'memcached');
}

/** The user a test's ClickHouse has besides `default`, with a password (credentials in ANALYTICS_URL). */
export const CLICKHOUSE_USER = { name: 'parley', password: 'ch secret' };

/**
 * A ClickHouse server of the test's own: its HTTP interface only, its data in the server's
 * directory (kept across restarts), UTC, a user with a password besides `default`.
 */
export function startClickHouse(): Promise<ServerHandle> {
  const users = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>2000000000</max_memory_usage></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default>
    <${CLICKHOUSE_USER.name}><password>${CLICKHOUSE_USER.password}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></${CLICKHOUSE_USER.name}>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`;
  const binary = CLICKHOUSE_SERVER as string;
  return managed(
    binary,
    (port, dir) => {
      const config = `<?xml version="1.0"?>
<yandex>
  <logger><level>error</level><console>1</console></logger>
  <http_port>${port}</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <timezone>UTC</timezone>
</yandex>
`;
      writeFileSync(path.join(dir, 'config.xml'), config);
      writeFileSync(path.join(dir, 'users.xml'), users);
      return [...(binary.endsWith('/clickhouse') ? ['server'] : []), `--config-file=${path.join(dir, 'config.xml')}`];
    },
    'http',
  );
}
