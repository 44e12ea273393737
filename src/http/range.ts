/**
 * The Range header of a GET (RFC 9110 §14): one byte range, which is all a file download or a
 * media player asks for. Several ranges in one header are answered with the whole file (the RFC
 * allows ignoring Range), rather than with a multipart body nobody here needs.
 */
import type { ByteRange } from '../ports.js';

/** What the header asks of a file of `size` bytes: a range, the whole file, or nothing it has. */
export function parseRange(header: string | undefined, size: number): ByteRange | 'whole' | 'unsatisfiable' {
  if (header === undefined) return 'whole';
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return 'whole';
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return 'whole';
  if (first === '') {
    // A suffix: the last N bytes.
    const n = Number(last);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  // A last byte before the first is not a valid range: ignored, as RFC 9110 says (the whole file).
  if (last !== '' && Number(last) < start) return 'whole';
  if (!Number.isSafeInteger(start) || start >= size) return 'unsatisfiable';
  return { start, end };
}
