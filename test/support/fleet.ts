/**
 * A Parley fleet for scale-out tests: nodes as real processes (`parley start --workers N`), and a
 * real nginx or HAProxy in front, configured from deploy/ with only its targets changed. All on
 * loopback, on free ports; everything started here is stopped by `stop()`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './services.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
export const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', (code) => resolve(code)));

/**
 * The children of `pid` that run Parley's CLI: a supervisor's workers. Only Parley's own
 * processes: the TypeScript loader may run a helper (esbuild's service) as another child.
 */
export function parleyChildren(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('cli.ts')) out.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

export class FleetNode {
  readonly port: number;
  readonly url: string;
  readonly #env: Record<string, string>;
  readonly #workers: number;
  #child: ChildProcess | null = null;
  /** Everything the node printed, for diagnosis. */
  output = '';

  constructor(port: number, env: Record<string, string>, workers: number) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.#env = env;
    this.#workers = workers;
  }

  get pid(): number {
    return this.#child?.pid ?? -1;
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--workers', String(this.#workers)], {
      cwd: ROOT,
      // No load shedding unless a test asks: nodes of a fleet share the test machine's two cores
      // with the load generator and each other, and lag for it.
      env: { ...process.env, LOAD_SHED_LAG_MS: '0', ...this.#env, PORT: String(this.port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    const keep = (d: Buffer) => {
      this.output = (this.output + d.toString()).slice(-200_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    try {
      await waitFor(`node ${this.port} ready`, async () => {
        if (child.exitCode !== null) throw new Error(`node ${this.port} exited with ${child.exitCode}`);
        // With one worker there is no primary: the node is a single process.
        return (await fetch(`${this.url}/readyz`)).status === 200 && this.workerPids().length === (this.#workers > 1 ? this.#workers : 0);
      }, 60_000);
    } catch (error) {
      throw new Error(`${(error as Error).message}; workers ${this.workerPids().join(', ') || 'none'}; its output:\n${this.output.slice(-4000)}`);
    }
  }

  /** The worker processes of this node (children of its primary). */
  workerPids(): number[] {
    return this.pid < 0 ? [] : parleyChildren(this.pid);
  }

  signal(signal: NodeJS.Signals): void {
    this.#child?.kill(signal);
  }

  /** Sends `signal` and resolves with the exit code once the whole node is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.#child;
    if (child === null) return null;
    const workers = this.workerPids();
    child.kill(signal);
    const code = await exited(child);
    // After a SIGKILL of the primary its workers notice the lost IPC channel and exit; wait.
    await waitFor(`workers of ${this.port} gone`, async () => workers.every((pid) => !existsSync(`/proc/${pid}`)), 15_000);
    this.#child = null;
    return code;
  }
}

export interface FleetOptions {
  nodes: number;
  workersPerNode: number;
  env: Record<string, string>;
  /** The load balancer in front, from deploy/: nginx (default) or haproxy. */
  balancer?: 'nginx' | 'haproxy';
}

export class Fleet {
  readonly nodes: FleetNode[];
  #balancer: ChildProcess | null = null;
  #balancerDir: string | null = null;
  /** The load balancer's URL: clients connect here. */
  url = '';
  balancerOutput = '';

  private constructor(nodes: FleetNode[]) {
    this.nodes = nodes;
  }

  static async start(options: FleetOptions): Promise<Fleet> {
    const ports = await Promise.all(Array.from({ length: options.nodes }, () => freePort()));
    const fleet = new Fleet(ports.map((port) => new FleetNode(port, options.env, options.workersPerNode)));
    try {
      await Promise.all(fleet.nodes.map((n) => n.start()));
      await fleet.#startBalancer(options.balancer ?? 'nginx');
    } catch (error) {
      await fleet.stop();
      throw error;
    }
    return fleet;
  }

  /** deploy/nginx.conf with its upstream servers, listen address and file paths pointed here. */
  static nginxConfig(upstreamPorts: number[], listenPort: number, dir: string): string {
    const source = readFileSync(path.join(ROOT, 'deploy', 'nginx.conf'), 'utf8');
    const servers = upstreamPorts.map((p) => `        server 127.0.0.1:${p} max_fails=2 fail_timeout=5s;`).join('\n');
    let conf = source.replace(/(^ *server 127\.0\.0\.1:\d+ [^\n]*\n)+/m, `${servers}\n`);
    conf = conf.replace(/^( *)listen \d+;/m, `$1listen 127.0.0.1:${listenPort};`);
    conf = conf.replace('worker_processes auto;', `worker_processes 1;\npid ${dir}/nginx.pid;`);
    // The assets cache too: nginx creates the directory (and hands it to its workers).
    conf = conf.replace(/^( *)proxy_cache_path \S+/gm, `$1proxy_cache_path ${dir}/cache`);
    conf = conf.replace(
      'access_log off;',
      ['access_log off;', ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `${t}_temp_path ${dir}/${t};`)].join('\n    '),
    );
    return conf;
  }

  /** deploy/haproxy.cfg with its servers and bind address pointed here. */
  static haproxyConfig(upstreamPorts: number[], listenPort: number): string {
    const source = readFileSync(path.join(ROOT, 'deploy', 'haproxy.cfg'), 'utf8');
    const servers = upstreamPorts.map((p, i) => `    server node${i + 1} 127.0.0.1:${p} check`).join('\n');
    return source.replace(/(^ *server node\d+ [^\n]*\n)+/m, `${servers}\n`).replace(/^( *)bind .+$/m, `$1bind 127.0.0.1:${listenPort}`);
  }

  async #startBalancer(kind: 'nginx' | 'haproxy'): Promise<void> {
    const binary = kind === 'nginx' ? NGINX : HAPROXY;
    if (binary === undefined) throw new Error(`${kind} is not installed`);
    const dir = mkdtempSync(path.join(tmpdir(), `parley-${kind}-`));
    // Run as root (CI), nginx's workers run as nobody and must reach the cache and temp
    // directories in here; mkdtemp makes it private to its owner.
    chmodSync(dir, 0o755);
    this.#balancerDir = dir;
    const port = await freePort();
    const ports = this.nodes.map((n) => n.port);
    const file = path.join(dir, kind === 'nginx' ? 'nginx.conf' : 'haproxy.cfg');
    writeFileSync(file, kind === 'nginx' ? Fleet.nginxConfig(ports, port, dir) : Fleet.haproxyConfig(ports, port));
    const args = kind === 'nginx' ? ['-p', dir, '-e', 'stderr', '-c', file, '-g', 'daemon off;'] : ['-f', file, '-db'];
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => {
      this.balancerOutput = (this.balancerOutput + d.toString()).slice(-50_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#balancer = child;
    this.url = `http://127.0.0.1:${port}`;
    await waitFor(`${kind} forwarding`, async () => {
      if (child.exitCode !== null) throw new Error(`${kind} exited with ${child.exitCode}: ${this.balancerOutput}`);
      return (await fetch(`${this.url}/healthz`)).status === 200;
    }, 15_000);
  }

  async stop(): Promise<void> {
    const balancer = this.#balancer;
    if (balancer !== null) {
      balancer.kill(balancer.spawnfile.endsWith('nginx') ? 'SIGQUIT' : 'SIGUSR1');
      await Promise.race([exited(balancer), new Promise((r) => setTimeout(r, 5_000))]);
      if (balancer.exitCode === null && balancer.signalCode === null) balancer.kill('SIGKILL');
    }
    await Promise.all(this.nodes.map((n) => n.stop('SIGTERM').catch(() => n.stop('SIGKILL'))));
    if (this.#balancerDir !== null) rmSync(this.#balancerDir, { recursive: true, force: true });
  }
}
