/**
 * An S3-compatible server of the test's own: s3rver (an npm package, so always there) in a child
 * process (test/support/s3rver-child.mjs) on a free loopback port, its objects in a temporary
 * directory. In a process of its own so that a test can kill it (an outage) and start it again
 * on the same port with the same objects (or freeze it), and so that its own buffering never counts in the
 * memory of the process under test. Its credentials are s3rver's fixed S3RVER / S3RVER.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './services.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 's3rver-child.mjs');

export interface S3rverHandle {
  endpoint: string;
  port: number;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Kills the server (SIGKILL), keeping its port and directory for `start`. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port, with the objects it had. */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections are still accepted by the kernel, nothing answers. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

export async function startS3rver(bucket = 'parley-test'): Promise<S3rverHandle> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-s3rver-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    const started = spawn(process.execPath, [CHILD], {
      env: { ...process.env, PARLEY_S3RVER_PORT: String(port), PARLEY_S3RVER_DIR: dir, PARLEY_S3RVER_BUCKET: bucket },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    let stderr = '';
    started.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4096);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`s3rver did not listen on ${port} within 10 s: ${stderr}`)), 10_000);
      started.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      started.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`s3rver exited with ${code} before listening on ${port}: ${stderr}`));
      });
    });
  };
  const halt = async (signal: NodeJS.Signals) => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    running.kill('SIGCONT');
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill(signal);
    await exited;
  };
  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    bucket,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    halt: () => halt('SIGKILL'),
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    async stop() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
