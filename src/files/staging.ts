/**
 * Receiving an upload onto local disk: the bytes go to a staging file as they arrive (never
 * whole in memory), counted against a cap, with the first bytes kept for sniffing. A sender that
 * stops sending is dropped after an idle deadline. The caller owns the file and deletes it.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { type AppError, validationFailed } from '../errors.js';

export interface Staged {
  path: string;
  size: number;
  /** The first `headBytes` bytes (all of them for a smaller file). */
  head: Buffer;
}

export interface StageOptions {
  /** Past this many bytes the upload is refused (413) and the partial file removed. */
  maxBytes: number;
  /** The refusal when `maxBytes` is passed (payload_too_large, or rate_limited for a quota). */
  tooLarge: () => AppError;
  headBytes: number;
  idleTimeoutMs: number;
  /**
   * Past `graceMs`, an upload must have averaged this many bytes a second since it started: a
   * body trickled to hold a slot of the node's upload concurrency is dropped.
   */
  minRate?: { bytesPerSec: number; graceMs: number };
  signal?: AbortSignal;
}

/**
 * Writes `body` to `file`. Rejects (the file removed) when it is too large, idle too long,
 * aborted or cut short. On a refusal the body is left unread (paused), not destroyed: the
 * socket stays up for the answer (413, 400), which closes the connection after it.
 */
export async function stage(body: Readable, file: string, options: StageOptions): Promise<Staged> {
  await mkdir(path.dirname(file), { recursive: true });
  const out = createWriteStream(file, { flags: 'wx' });
  const headParts: Buffer[] = [];
  let headSize = 0;
  let size = 0;
  const started = Date.now();
  let idle: NodeJS.Timeout | null = null;
  let settle: ((error: Error | null) => void) | null = null;

  const result = new Promise<void>((resolve, reject) => {
    settle = (error) => {
      settle = null;
      if (error === null) resolve();
      else reject(error);
    };
  });
  const fail = (error: Error) => {
    if (settle === null) return;
    const done = settle;
    body.off('data', onData);
    body.pause();
    out.destroy();
    done(error);
  };
  const armIdle = () => {
    if (idle !== null) clearTimeout(idle);
    idle = setTimeout(() => fail(validationFailed(`The upload stalled: nothing arrived for ${options.idleTimeoutMs} ms.`)), options.idleTimeoutMs);
  };
  const tooSlow = (): boolean => {
    if (options.minRate === undefined) return false;
    const elapsed = Date.now() - started;
    return elapsed > options.minRate.graceMs && size < (elapsed / 1000) * options.minRate.bytesPerSec;
  };
  function onData(chunk: Buffer): void {
    armIdle();
    size += chunk.length;
    if (size > options.maxBytes) return fail(options.tooLarge());
    if (tooSlow()) return fail(validationFailed(`The upload is too slow: at least ${options.minRate?.bytesPerSec} bytes a second are needed.`));
    if (headSize < options.headBytes) {
      const part = chunk.subarray(0, options.headBytes - headSize);
      headParts.push(Buffer.from(part));
      headSize += part.length;
    }
    // Backpressure: the socket is read no faster than the disk takes it.
    if (!out.write(chunk)) body.pause();
  }
  const onAbort = () => fail(validationFailed('The upload was cancelled.'));

  out.on('drain', () => {
    if (settle !== null) body.resume();
  });
  out.on('error', (error) => fail(error));
  out.on('finish', () => settle?.(null));
  body.on('data', onData);
  body.on('end', () => {
    if (settle !== null) out.end();
  });
  body.on('error', () => fail(validationFailed('The upload ended before all its bytes arrived.')));
  // The sender went away mid-body (a closed connection, a reset).
  body.on('close', () => {
    if (settle !== null && !body.readableEnded) fail(validationFailed('The upload ended before all its bytes arrived.'));
  });
  options.signal?.addEventListener('abort', onAbort, { once: true });
  armIdle();
  try {
    await result;
    return { path: file, size, head: Buffer.concat(headParts) };
  } catch (error) {
    await rm(file, { force: true });
    throw error;
  } finally {
    if (idle !== null) clearTimeout(idle);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** Removes staging files untouched for `olderThanMs` (left by a process that died mid-upload). */
export async function cleanStaging(dir: string, olderThanMs: number, now = Date.now()): Promise<number> {
  let removed = 0;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      if (now - (await stat(file)).mtimeMs > olderThanMs) {
        await rm(file, { force: true, recursive: true });
        removed += 1;
      }
    } catch {
      // Gone already (another process cleaned it): nothing to do.
    }
  }
  return removed;
}
