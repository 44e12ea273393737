/**
 * A file's content type, decided from its first bytes, never from its name or the Content-Type
 * its sender claimed: the upload allow-list (UPLOAD_TYPES) is checked against this, so what is
 * stored is what the bytes are.
 *
 * Binary signatures come from file-type. Bytes with none that read as text are classified by
 * what a browser could make of them, conservatively: markup that can run script (HTML, SVG, XML)
 * always comes out as its active type, so an allow-list that leaves those types out refuses it,
 * whatever else it also looks like. Everything else is text/plain (or application/json), and
 * bytes that are neither are application/octet-stream.
 */
import { fileTypeFromBuffer } from 'file-type';

/** How much of a file callers pass: file-type's own reading window (the whole file if shorter). */
export const SNIFF_BYTES = 4100;

/** The image types a browser may show inline: raster formats with no script in them (never SVG). */
const SAFE_INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif']);

/** The types of markup a browser runs script in, when it renders it. */
const ACTIVE = new Set(['text/html', 'image/svg+xml', 'application/xml']);

/** Types a browser would run or render as a document: never stored, whatever an allow-list says. */
export function isActiveContent(type: string): boolean {
  return ACTIVE.has(type.split(';')[0]?.trim().toLowerCase() ?? '');
}

/**
 * Tags that make text HTML, anywhere in the head. The WHATWG MIME Sniffing list (a browser that
 * sniffs renders text starting with one of these as HTML) plus every tag that loads, embeds or
 * runs something. Browsers only sniff at the start, but a page served with a wrong type, an old
 * browser or a viewer may look further: a text file that mentions one (a snippet of markup) is
 * refused as text/html, which costs a false refusal, never a stored page. A tag is its name then
 * whitespace, `>` or `/` (`<img/src=x onerror=…>` parses as an image).
 */
const HTML_TAG =
  /<(?:!doctype\s+html|html|head|body|script|iframe|frame|frameset|noscript|style|title|meta|link|base|object|embed|applet|param|form|input|button|textarea|select|isindex|img|image|picture|svg|math|video|audio|source|track|canvas|template|details|dialog|marquee|portal|xmp|plaintext|a|b|br|p|h1|div|font|table)(?=[\s/>])/i;

/** What may come before a document's root element: whitespace, XML declarations and processing instructions, comments, a doctype (with an internal subset) that is not HTML's. */
// One `\s` before the name, and no whitespace run beside another that could match the same
// spaces: a doctype left open after thousands of spaces is read in one pass, not quadratically.
const PROLOG = /\s+|<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<!doctype\s(?!\s*html)[^>[]*(?:\[[\s\S]*?\][^>]*)?>/iy;

/**
 * The content type of a file from its head: its first SNIFF_BYTES bytes, or the whole file
 * when shorter (`complete`: `head` is the whole file).
 *
 * - A binary signature file-type knows gives its type (image/png, application/pdf, application/zip
 *   and the office formats built on it, audio/mpeg ...), unless the same bytes also read as
 *   active text (below): a text file that merely starts with a weak signature (`ID3`, `BM`) and
 *   carries a page after it is that page, so a family wildcard (audio/*) never lets HTML in. A
 *   signature followed by markup in binary (a PNG with HTML after its header) keeps the binary
 *   type: a real signature is never valid text, and an image is decoded and re-encoded before
 *   it is served (src/files/images.ts), which leaves nothing of the rest.
 * - Text is valid UTF-8 (a leading BOM ignored; a sequence cut by the end of an incomplete head
 *   is fine) or UTF-16 with its BOM (browsers honour a BOM over any declared charset, so such a
 *   file shows as the text it is), with no NUL and at most one control character in a hundred
 *   (tab, line breaks, form feed and escape are not counted, as in the WHATWG binary-data bytes).
 *   UTF-16 text is text whatever file-type says: its BOM is all it matches (FF FE reads as an
 *   MPEG audio frame header). UTF-8 text keeps a signature it has: many formats are plain
 *   ASCII at their start (PDF, PostScript, RTF, iCalendar).
 * - Text is, in this order: image/svg+xml when its root element (after the XML declaration,
 *   comments and a doctype) is `<svg`; text/html when an HTML tag (HTML_TAG) appears anywhere;
 *   application/xml when it starts with an XML declaration; application/json when it is the
 *   whole file and parses as a JSON object or array (a longer JSON file is text/plain: a head
 *   cannot be checked); otherwise text/plain. CSV is not told apart from text: it is text/plain.
 * - Anything else is application/octet-stream.
 */
export async function sniffContentType(head: Uint8Array, complete: boolean): Promise<string> {
  const text = decodeText(head, complete);
  const textType = text === null ? null : classifyText(text.text, complete);
  if (textType !== null && (ACTIVE.has(textType) || text?.utf16 === true)) return textType;
  return (await binarySignature(head)) ?? textType ?? 'application/octet-stream';
}

/** Whether `type` is on the allow-list: listed exactly, or its family is (`audio/*`). Case and parameters (`; charset=…`) are ignored. */
export function typeAllowed(type: string, allowList: string[]): boolean {
  const bare = (type.split(';')[0] ?? '').trim().toLowerCase();
  const slash = bare.indexOf('/');
  if (slash <= 0) return false;
  const family = `${bare.slice(0, slash)}/*`;
  return allowList.some((entry) => entry === bare || entry === family);
}

/** Whether an image of this type may be shown inline (decoded by the browser as pixels and nothing else): PNG, JPEG, GIF, WebP, AVIF. Never SVG. */
export function isSafeInlineImage(type: string): boolean {
  return SAFE_INLINE_IMAGES.has(type.toLowerCase());
}

/** file-type's answer, or undefined; a head it cannot parse (a truncated container) has none. */
async function binarySignature(head: Uint8Array): Promise<string | undefined> {
  try {
    return (await fileTypeFromBuffer(head))?.mime;
  } catch {
    return undefined;
  }
}

/** The head as text, or null when it is not text (see sniffContentType). */
function decodeText(head: Uint8Array, complete: boolean): { text: string; utf16: boolean } | null {
  const encoding = head[0] === 0xfe && head[1] === 0xff ? 'utf-16be' : head[0] === 0xff && head[1] === 0xfe ? 'utf-16le' : 'utf-8';
  let text: string;
  try {
    // fatal: an invalid sequence throws; stream: an incomplete one at the end is held back, not refused.
    text = new TextDecoder(encoding, { fatal: true }).decode(head, { stream: !complete });
  } catch {
    return null;
  }
  let controls = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) return null;
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0c && c !== 0x0d && c !== 0x1b) || (c >= 0x7f && c <= 0x9f)) controls++;
  }
  return controls * 100 > text.length ? null : { text, utf16: encoding !== 'utf-8' };
}

function classifyText(text: string, complete: boolean): string {
  if (/^<svg(?=[\s/>])/i.test(text.slice(prologLength(text)))) return 'image/svg+xml';
  if (HTML_TAG.test(text)) return 'text/html';
  const trimmed = text.trimStart();
  if (/^<\?xml(?=[\s?])/i.test(trimmed)) return 'application/xml';
  if (complete && (trimmed.startsWith('{') || trimmed.startsWith('['))) {
    try {
      JSON.parse(trimmed);
      return 'application/json';
    } catch {
      // Not JSON: text.
    }
  }
  return 'text/plain';
}

/** Where the root element may start: past the prolog. */
function prologLength(text: string): number {
  const prolog = new RegExp(PROLOG);
  let at = 0;
  // Sticky: each match starts where the last ended, and every alternative consumes something.
  while (prolog.exec(text) !== null) at = prolog.lastIndex;
  return at;
}
