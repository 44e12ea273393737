/**
 * A Redis Cluster of a test's own: three masters, each with one replica, six `redis-server
 * --cluster-enabled yes` processes on loopback ports (each with its cluster bus port, +10000,
 * free too), joined by `redis-cli --cluster create --cluster-replicas 1`. No persistence. Always
 * removed by stop(); a master can be killed (kill()) to see its replica take over.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { waitForPort } from './services.js';

const run = promisify(execFile);

/** True when `port` and its cluster bus port are both free on loopback. */
async function free(port: number): Promise<boolean> {
  const tryListen = (p: number) =>
    new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(p, '127.0.0.1', () => server.close(() => resolve(true)));
    });
  return (await tryListen(port)) && (await tryListen(port + 10_000));
}

async function freeClusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count && attempt < 10_000; attempt++) {
    const port = 30_000 + Math.floor(Math.random() * 20_000);
    if (!ports.includes(port) && (await free(port))) ports.push(port);
  }
  if (ports.length < count) throw new Error('no free ports for a Redis Cluster');
  return ports;
}

export interface RedisClusterHandle {
  /** host:port of every node, the masters first as created. */
  nodes: string[];
  /** A seed URL (redis://127.0.0.1:<port of the first node>). */
  url: string;
  /** Kills the node on `port` at once (SIGKILL): a master's replica is promoted after the node timeout. */
  kill(port: number): Promise<void>;
  /** The ports of the masters now, as the cluster says. */
  masters(): Promise<number[]>;
  stop(): Promise<void>;
}

export async function startRedisCluster(options: { nodeTimeoutMs?: number } = {}): Promise<RedisClusterHandle> {
  const ports = await freeClusterPorts(6);
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-rcluster-'));
  const children = new Map<number, ChildProcess>();
  const stop = async () => {
    await Promise.all(
      [...children.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const child = spawn(
        'redis-server',
        [
          '--port', String(port),
          '--bind', '127.0.0.1',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 2_000),
          '--save', '',
          // Replicas sync at once (not after the default 5 s): a replica that has not synced cannot take over.
          '--repl-diskless-sync-delay', '0',
          '--appendonly', 'no',
          '--dir', dir,
          '--logfile', path.join(dir, `redis-${port}.log`),
        ],
        { stdio: 'ignore' },
      );
      children.set(port, child);
      await waitForPort(port, child);
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '1', '--cluster-yes'], { timeout: 60_000 });
    // Every node agrees the cluster is up before anything uses it.
    const deadline = Date.now() + 30_000;
    for (const port of ports) {
      const redis = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await redis.connect();
        while (!String(await redis.cluster('INFO')).includes('cluster_state:ok')) {
          if (Date.now() > deadline) throw new Error(`the Redis Cluster did not come up (node ${port})`);
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        redis.disconnect();
      }
    }
    // And every replica has synced with its master: only then can it take over.
    for (const port of ports) {
      const redis = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await redis.connect();
        for (;;) {
          const info = String(await redis.info('replication'));
          if (info.includes('role:master') || info.includes('master_link_status:up')) break;
          if (Date.now() > deadline) throw new Error(`replica ${port} did not sync with its master`);
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        redis.disconnect();
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes: ports.map((p) => `127.0.0.1:${p}`),
    url: `redis://127.0.0.1:${ports[0]}`,
    async kill(port) {
      const child = children.get(port);
      if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
    async masters() {
      for (const port of ports) {
        if (children.get(port)?.exitCode !== null || children.get(port)?.signalCode !== null) continue;
        const redis = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
        try {
          await redis.connect();
          const lines = String(await redis.cluster('NODES')).split('\n');
          return lines
            .map((line) => line.split(' '))
            .filter((fields) => {
              const flags = (fields[2] ?? '').split(',');
              return flags.includes('master') && !flags.includes('fail') && !flags.includes('fail?');
            })
            .map((fields) => Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]))
            .filter((p) => Number.isFinite(p));
        } catch {
          // this node cannot answer: ask the next
        } finally {
          redis.disconnect();
        }
      }
      throw new Error('no node of the Redis Cluster answers');
    },
    stop,
  };
}
