/**
 * The keys of the ObjectStore port, checked by every adapter before it touches storage: relative
 * paths of [A-Za-z0-9._-] segments joined by '/', never '.' or '..', so a key can never leave the
 * store's directory (fs) or prefix (s3), whatever a caller built it from.
 */

const SEGMENT = /^[A-Za-z0-9._-]+$/;

/** Longest key accepted, in characters: S3's limit is 1024 bytes, and every key is ASCII. */
export const MAX_OBJECT_KEY = 1024;

/**
 * Throws a plain Error (a programming error, never an outage) unless `key` is a valid object key:
 * no empty segment (so no leading, trailing or doubled '/'), no '.' or '..', no backslash, no
 * character outside [A-Za-z0-9._-/].
 */
export function assertObjectKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_OBJECT_KEY) throw new Error(`invalid object key ${JSON.stringify(key)}: empty or too long`);
  for (const segment of key.split('/')) {
    if (!SEGMENT.test(segment) || segment === '.' || segment === '..') throw new Error(`invalid object key ${JSON.stringify(key)}: segments are [A-Za-z0-9._-], never empty, '.' or '..'`);
  }
}
