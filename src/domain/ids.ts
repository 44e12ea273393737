/** Opaque ids and session tokens. */
import { createHash, randomBytes, randomFillSync } from 'node:crypto';

/**
 * Random bytes are drawn from the CSPRNG 4 KiB at a time: one system call per 256 ids instead
 * of one per id (an id per message made this a visible share of the send path).
 */
const POOL = Buffer.alloc(4096);
let poolOffset = POOL.length;

/** 128 random bits, base64url: unguessable, so an id never reveals another room or user. */
export const newId = (): string => {
  if (poolOffset + 16 > POOL.length) {
    randomFillSync(POOL);
    poolOffset = 0;
  }
  poolOffset += 16;
  return POOL.toString('base64url', poolOffset - 16, poolOffset);
};

/** 256 random bits; only its SHA-256 is stored. */
export const newToken = (): string => randomBytes(32).toString('base64url');

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
