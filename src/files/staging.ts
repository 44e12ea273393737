/**
 * Receiving an upload onto local disk: the bytes go to a staging file as they arrive (never
 * whole in memory), counted against a cap, with the first bytes kept for sniffing. A sender that
 * stops sending is dropped after an idle deadline. The caller owns the file and deletes it.
 */
import { createWriteStream, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AppError, validationFailed } from '../errors.js';

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

/** Writes `body` to `file`. Rejects (the file removed) when it is too large, idle too long, aborted or cut short. */
export async function stage(body: Readable, file: string, options: StageOptions): Promise<Staged> {
  mkdirSync(path.dirname(file), { recursive: true });
  let size = 0;
  const headParts: Buffer[] = [];
  let headSize = 0;
  let refusal: AppError | null = null;
  let idle: NodeJS.Timeout | null = null;
  const controller = new AbortController();
  const abort = (error: AppError) => {
    refusal ??= error;
    controller.abort(error);
  };
  const armIdle = () => {
    if (idle !== null) clearTimeout(idle);
    idle = setTimeout(() => abort(validationFailed(`The upload stalled: nothing arrived for ${options.idleTimeoutMs} ms.`)), options.idleTimeoutMs);
  };
  const onAbort = () => abort(new AppError('validation_failed', 'The upload was cancelled.'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  armIdle();
  const started = Date.now();
  const tooSlow = (): boolean => {
    if (options.minRate === undefined) return false;
    const elapsed = Date.now() - started;
    return elapsed > options.minRate.graceMs && size < (elapsed / 1000) * options.minRate.bytesPerSec;
  };
  try {
    await pipeline(
      body,
      async function* count(source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          armIdle();
          size += chunk.length;
          if (tooSlow()) {
            abort(validationFailed(`The upload is too slow: at least ${options.minRate?.bytesPerSec} bytes a second are needed.`));
            return;
          }
          if (size > options.maxBytes) {
            abort(options.tooLarge());
            return;
          }
          if (headSize < options.headBytes) {
            const part = chunk.subarray(0, options.headBytes - headSize);
            headParts.push(Buffer.from(part));
            headSize += part.length;
          }
          yield chunk;
        }
      },
      createWriteStream(file, { flags: 'wx' }),
      { signal: controller.signal },
    );
    if (refusal !== null) throw refusal;
    return { path: file, size, head: Buffer.concat(headParts) };
  } catch (error) {
    rmSync(file, { force: true });
    if (refusal !== null) throw refusal;
    // The sender went away mid-body (a closed connection, a reset): nothing to answer but this.
    if ((error as { code?: string }).code === 'ECONNRESET' || (error as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error).message === 'aborted') {
      throw validationFailed('The upload ended before all its bytes arrived.');
    }
    throw error;
  } finally {
    if (idle !== null) clearTimeout(idle);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** Removes staging files untouched for `olderThanMs` (left by a process that died mid-upload). */
export function cleanStaging(dir: string, olderThanMs: number, now = Date.now()): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      if (now - statSync(file).mtimeMs > olderThanMs) {
        rmSync(file, { force: true, recursive: true });
        removed += 1;
      }
    } catch {
      // Gone already (another process cleaned it): nothing to do.
    }
  }
  return removed;
}
