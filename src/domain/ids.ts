/** Opaque ids and session tokens. */
import { createHash, randomBytes } from 'node:crypto';

/** 128 random bits, base64url: unguessable, so an id never reveals another room or user. */
export const newId = (): string => randomBytes(16).toString('base64url');

/** 256 random bits; only its SHA-256 is stored. */
export const newToken = (): string => randomBytes(32).toString('base64url');

export const hashToken = (token: string): string => createHash('sha256').update(token).digest('hex');
