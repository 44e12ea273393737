/**
 * File names as users give them, made safe to store, show and send back in a header. A name is
 * only ever a label: objects are stored under ids, never under names.
 */

/** Longest stored name, in UTF-8 bytes (what most filesystems take). */
const MAX_NAME_BYTES = 255;

/**
 * Controls, and the bidirectional overrides and isolates that make "photo\u202Egnp.exe" read as
 * "photoexe.png": a name shows what it is.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: controls are what this removes
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** The last path segment, without controls or direction overrides, trimmed, at most 255 UTF-8 bytes (the extension kept); 'file' when nothing is left. */
export function safeFileName(raw: string): string {
  const base = raw.normalize('NFC').split(/[\\/]/).pop() ?? '';
  let name = base.replace(UNSAFE, '').trim().replace(/^\.+/, '');
  if (name === '') return 'file';
  if (Buffer.byteLength(name) <= MAX_NAME_BYTES) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  let stem = [...name.slice(0, name.length - ext.length)];
  while (stem.length > 0 && Buffer.byteLength(stem.join('') + ext) > MAX_NAME_BYTES) stem = stem.slice(0, -1);
  name = stem.join('') + ext;
  return name === '' ? 'file' : name;
}

/**
 * A Content-Disposition header (RFC 6266): `inline` or `attachment`, with an ASCII fallback
 * name (quotes, backslashes and non-ASCII replaced) and the exact name as UTF-8 (RFC 8187).
 */
export function contentDisposition(kind: 'inline' | 'attachment', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%;]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
