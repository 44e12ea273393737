/**
 * The one Markdown renderer: a message body, in a small Markdown subset, to an HTML string.
 * Shared by the browser app and the server's HTML export, so it imports nothing at all (no Node
 * module, no other file): it needs only `String` and the WHATWG `URL` parser, which both have.
 *
 * The subset: *emphasis* and _emphasis_, **strong** and __strong__, ~~strike~~, `code`, fenced
 * code blocks (```lang), block quotes (> ), one level of unordered (- , * ) and ordered (1. )
 * lists, paragraphs (a blank line) and line breaks (a single newline is <br>), links
 * [text](url), bare http(s) autolinks, and mentions @username. A backslash before ASCII
 * punctuation makes it literal.
 *
 * What is guaranteed, whatever the input (the point of the module):
 * - No raw HTML ever passes through: every character of the input reaches the output escaped
 *   (& < > " ' as entities), or as one of the tags this file writes itself. The only tags are
 *   p, br, em, strong, del, code, pre, blockquote, ul, ol, li, a and span, well nested.
 * - Attributes are only href, rel, target, class, start and data-username, always double-quoted
 *   and escaped: no style, no event handler.
 * - A link's URL is parsed with `new URL` (no base, so relative and protocol-relative URLs fail)
 *   and kept only if its scheme is http:, https: or mailto: and its source has no white space or
 *   control character (the URL parser silently drops tabs and newlines, which is how
 *   `java\tscript:` passes naive filters); the href is the parser's re-serialisation. Anything
 *   else stays plain escaped text. Every link has rel="noopener noreferrer nofollow" and
 *   target="_blank". (A mention's href, which comes from the caller's `mention` option and not
 *   from the text, may also be a path on this site: `/…` but not `//…` or `/\…`.)
 * - A mention is `@` then 3–32 of A-Z a-z 0-9 _ . - (USERNAME_PATTERN of limits.ts, repeated
 *   here so this file imports nothing), not preceded by one of them (so a@b.com is no mention);
 *   trailing full stops are the sentence's, not the name's. `@room` is a mention like any other.
 * - Code (spans and blocks) is escaped and never formatted further.
 * - Bounded work: one pass over the text per block, no regular expression that can backtrack
 *   (every scan stops at a bracket or a length cap, so no position is rescanned more than a few
 *   times), block quotes nest at most MAX_QUOTE_DEPTH deep (deeper `>` are text) and emphasis
 *   at most MAX_OPENERS deep.
 */

/** Decides how a mention shows: a link (`href`) and/or another label, or null for plain text. */
export type MentionRenderer = (username: string) => { href?: string; label?: string } | null;

export interface MarkdownOptions {
  mention?: MentionRenderer;
}

/** Text made inert in HTML content and attribute values. */
export const escapeHtml = (text: string): string =>
  /[&<>"']/.test(text) ? text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&#39;') : text;

/** Escaped text with its newlines as line breaks. */
const escapeText = (text: string): string => {
  const escaped = escapeHtml(text);
  return escaped.includes('\n') ? escaped.replaceAll('\n', '<br>') : escaped;
};

/** Characters that may start something in inline text; a run of any others is copied at once. */
const INLINE_SPECIAL = /[\\`[hH@*_~]/g;

const LINK_ATTRS = 'rel="noopener noreferrer nofollow" target="_blank"';
const MAX_QUOTE_DEPTH = 8;
/**
 * Most emphasis openers waiting for their closer in one block; more stay literal. A nested pair
 * opens while the pairs around it wait, so this also caps how deep emphasis nests.
 */
const MAX_OPENERS = 64;
/** Longest link text and URL looked for: beyond, the brackets are text (bounds every scan). */
const MAX_LINK_TEXT = 1000;
const MAX_URL = 2048;
const LANGUAGE = /^[A-Za-z0-9_+-]{1,32}$/;
const SAFE_SCHEMES = new Set(['http:', 'https:', 'mailto:']);
/** White space (Unicode's, as `\s` means), C0 and C1 controls and DEL: never in a kept URL. */
const UNSAFE_URL_CHAR = /[\s\p{Cc}]/u;

/** The parser's serialisation of `raw` if it is an absolute http:, https: or mailto: URL; else null. */
export function safeUrl(raw: string): string | null {
  if (raw === '' || raw.length > MAX_URL || UNSAFE_URL_CHAR.test(raw)) return null;
  // The scheme must be spelled out at the start: the parser would otherwise strip what precedes it.
  if (!/^(?:https?:\/\/|mailto:)/i.test(raw)) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (!SAFE_SCHEMES.has(url.protocol)) return null;
  if (url.protocol !== 'mailto:' && url.hostname === '') return null;
  return url.href;
}

/** A mention's own href: a safe absolute URL, or a path on this site (`/…`, not `//…`). */
function safeMentionHref(href: string): string | null {
  if (/^\/(?![/\\])/.test(href) && !UNSAFE_URL_CHAR.test(href) && !href.includes('\\')) return href;
  return safeUrl(href);
}

const isSpace = (c: string | undefined): boolean => c === undefined || /\s/.test(c);
const isAlnum = (c: string | undefined): boolean => c !== undefined && /[\p{L}\p{N}]/u.test(c);
const isUsernameChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_.-]/.test(c);
const isPunct = (c: string | undefined): boolean => c !== undefined && /[!-/:-@[-`{-~]/.test(c);
const isUrlEnd = (c: string | undefined): boolean => c === undefined || c === '<' || c === '>' || c === '"' || c === '`' || UNSAFE_URL_CHAR.test(c);

/** Renders a message body; see the module comment for the subset and the guarantees. */
export function renderMarkdown(text: string, options: MarkdownOptions = {}): string {
  const lines = text.replaceAll('\u0000', '\ufffd').replace(/\r\n?/g, '\n').split('\n');
  return renderBlocks(lines, 0, options);
}

const FENCE = /^ {0,3}(`{3,})/;
const QUOTE = /^ {0,3}> ?/;
const BULLET = /^ {0,3}[-*] +/;
const ORDERED = /^ {0,3}(\d{1,9})\. +/;

function isBlockStart(line: string, depth: number): boolean {
  const fence = FENCE.exec(line);
  if (fence && !line.slice(fence[0].length).includes('`')) return true;
  return (depth < MAX_QUOTE_DEPTH && QUOTE.test(line)) || BULLET.test(line) || ORDERED.test(line);
}

function renderBlocks(lines: string[], depth: number, options: MarkdownOptions): string {
  let out = '';
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.trim() === '') {
      i++;
      continue;
    }
    const fence = FENCE.exec(line);
    const info = fence ? line.slice(fence[0].length) : '';
    if (fence && !info.includes('`')) {
      const ticks = (fence[1] as string).length;
      const word = info.trim().split(/\s/, 1)[0] ?? '';
      const body: string[] = [];
      i++;
      while (i < lines.length) {
        const close = FENCE.exec(lines[i] as string);
        if (close && (close[1] as string).length >= ticks && (lines[i] as string).slice(close[0].length).trim() === '') break;
        body.push(lines[i] as string);
        i++;
      }
      i++; // the closing fence (or the end of the text: an unclosed fence runs to the end)
      const cls = LANGUAGE.test(word) ? ` class="language-${escapeHtml(word)}"` : '';
      out += `<pre><code${cls}>${escapeHtml(body.join('\n'))}</code></pre>`;
      continue;
    }
    if (depth < MAX_QUOTE_DEPTH && QUOTE.test(line)) {
      const inner: string[] = [];
      while (i < lines.length && QUOTE.test(lines[i] as string)) {
        const l = lines[i] as string;
        inner.push(l.slice((QUOTE.exec(l) as RegExpExecArray)[0].length));
        i++;
      }
      out += `<blockquote>${renderBlocks(inner, depth + 1, options)}</blockquote>`;
      continue;
    }
    const ordered = ORDERED.exec(line);
    if (ordered || BULLET.test(line)) {
      const marker = ordered ? ORDERED : BULLET;
      let items = '';
      while (i < lines.length) {
        const m = marker.exec(lines[i] as string);
        if (!m) break;
        items += `<li>${renderInline((lines[i] as string).slice(m[0].length), options)}</li>`;
        i++;
      }
      const start = ordered ? Number(ordered[1]) : 1;
      out += ordered ? `<ol${start === 1 ? '' : ` start="${start}"`}>${items}</ol>` : `<ul>${items}</ul>`;
      continue;
    }
    const para: string[] = [line];
    i++;
    while (i < lines.length && (lines[i] as string).trim() !== '' && !isBlockStart(lines[i] as string, depth)) {
      para.push(lines[i] as string);
      i++;
    }
    out += `<p>${renderInline(para.join('\n'), options)}</p>`;
  }
  return out;
}

type DelimiterType = '*' | '**' | '_' | '__' | '~~';
const TAGS: Record<DelimiterType, string> = { '*': 'em', '**': 'strong', _: 'em', __: 'strong', '~~': 'del' };

/**
 * For each run of backticks (by its start), where the next run of exactly as many starts: the
 * close of a code span. Computed once, right to left, so finding a closer costs nothing.
 */
function backtickClosers(text: string): Map<number, number> {
  const runs: Array<[number, number]> = [];
  for (let i = 0; i < text.length; ) {
    if (text[i] !== '`') {
      i++;
      continue;
    }
    let j = i;
    while (text[j] === '`') j++;
    runs.push([i, j - i]);
    i = j;
  }
  const closers = new Map<number, number>();
  const nextOfLength = new Map<number, number>();
  for (let r = runs.length - 1; r >= 0; r--) {
    const [start, length] = runs[r] as [number, number];
    const next = nextOfLength.get(length);
    if (next !== undefined) closers.set(start, next);
    nextOfLength.set(length, start);
  }
  return closers;
}

/**
 * One block's inline content. Output pieces are collected in `out`; emphasis delimiters are
 * written as their literal text and replaced by tags when a closer finds its opener. Each
 * delimiter type has its own stack of openers; a match drops every opener of the other types
 * opened after its opener (they stay literal), so the tags are always well nested and each
 * opener is looked at a bounded number of times.
 */
function renderInline(text: string, options: MarkdownOptions): string {
  const out: string[] = [];
  const openers: Record<DelimiterType, number[]> = { '*': [], '**': [], _: [], __: [], '~~': [] };
  const stacks = Object.values(openers);
  const closers = backtickClosers(text);
  let buf = '';
  const flush = (): void => {
    if (buf !== '') out.push(escapeText(buf));
    buf = '';
  };
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '\\' && isPunct(text[i + 1])) {
      buf += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      let end = i;
      while (text[end] === '`') end++;
      const close = closers.get(i);
      if (close === undefined || text[i - 1] === '`') {
        buf += text.slice(i, end);
        i = end;
        continue;
      }
      let code = text.slice(end, close);
      if (code.length > 2 && code.startsWith(' ') && code.endsWith(' ') && code.trim() !== '') code = code.slice(1, -1);
      flush();
      out.push(`<code>${escapeHtml(code)}</code>`);
      i = close + (end - i);
      continue;
    }
    if (c === '[') {
      const link = scanLink(text, i);
      if (link) {
        const href = safeUrl(link.url);
        if (href !== null && link.label.trim() !== '') {
          flush();
          out.push(`<a href="${escapeHtml(href)}" ${LINK_ATTRS}>${escapeText(link.label)}</a>`);
        } else {
          buf += text.slice(i, link.end);
        }
        i = link.end;
        continue;
      }
      buf += c;
      i++;
      continue;
    }
    if ((c === 'h' || c === 'H') && !isAlnum(text[i - 1]) && /^https?:\/\//i.test(text.slice(i, i + 8))) {
      let end = i;
      while (end < text.length && !isUrlEnd(text[end])) end++;
      end = trimUrlEnd(text, i, end);
      const raw = text.slice(i, end);
      const href = safeUrl(raw);
      if (href !== null) {
        flush();
        out.push(`<a href="${escapeHtml(href)}" ${LINK_ATTRS}>${escapeHtml(raw)}</a>`);
      } else {
        buf += raw;
      }
      i = end;
      continue;
    }
    if (c === '@' && !isUsernameChar(text[i - 1]) && text[i - 1] !== '@') {
      let end = i + 1;
      while (end < text.length && end - i <= 33 && isUsernameChar(text[end])) end++;
      // A sentence's full stop is not part of the name: "thanks @alice." mentions alice.
      let nameEnd = end;
      while (nameEnd > i + 1 && text[nameEnd - 1] === '.') nameEnd--;
      const name = text.slice(i + 1, nameEnd);
      if (!isUsernameChar(text[end]) && name.length >= 3 && name.length <= 32) {
        flush();
        out.push(renderMention(name, options));
        i = nameEnd;
        continue;
      }
      buf += text.slice(i, end);
      i = end;
      continue;
    }
    if (c === '*' || c === '_' || c === '~') {
      let end = i;
      while (text[end] === c) end++;
      const run = text.slice(i, end);
      const type = delimiterType(run);
      const before = text[i - 1];
      const after = text[end];
      const underscore = c === '_';
      const canClose = !isSpace(before) && !(underscore && isAlnum(after));
      const canOpen = !isSpace(after) && !(underscore && isAlnum(before));
      if (type !== null && canClose && openers[type].length > 0) {
        const opener = openers[type].pop() as number;
        for (const other of stacks) {
          while (other.length > 0 && (other[other.length - 1] as number) > opener) other.pop();
        }
        flush();
        out[opener] = `<${TAGS[type]}>`;
        out.push(`</${TAGS[type]}>`);
      } else if (type !== null && canOpen && stacks.reduce((n, stack) => n + stack.length, 0) < MAX_OPENERS) {
        flush();
        openers[type].push(out.length);
        out.push(run);
      } else {
        buf += run;
      }
      i = end;
      continue;
    }
    INLINE_SPECIAL.lastIndex = i + 1;
    const next = INLINE_SPECIAL.exec(text)?.index ?? text.length;
    buf += text.slice(i, next);
    i = next;
  }
  flush();
  return out.join('');
}

function delimiterType(run: string): DelimiterType | null {
  if (run === '*' || run === '**' || run === '_' || run === '__' || run === '~~') return run;
  return null;
}

/** `[label](url)` at `start`, if its shape is there (the URL is not checked yet). */
function scanLink(text: string, start: number): { label: string; url: string; end: number } | null {
  let j = start + 1;
  while (j < text.length && j - start <= MAX_LINK_TEXT && text[j] !== '[' && text[j] !== ']') j++;
  if (text[j] !== ']' || text[j + 1] !== '(') return null;
  const urlStart = j + 2;
  let k = urlStart;
  while (k < text.length && k - urlStart <= MAX_URL && text[k] !== ')' && text[k] !== '[' && !isUrlEnd(text[k])) k++;
  if (text[k] !== ')') return null;
  return { label: text.slice(start + 1, j), url: text.slice(urlStart, k), end: k + 1 };
}

/** Where a bare URL ends: without trailing punctuation, or a `)` it did not open. */
function trimUrlEnd(text: string, start: number, end: number): number {
  let opened = 0;
  for (let k = start; k < end; k++) {
    if (text[k] === '(') opened++;
    else if (text[k] === ')') opened--;
  }
  while (end > start) {
    const last = text[end - 1] as string;
    if (last === ')' && opened < 0) {
      opened++;
      end--;
    } else if (".,:;!?'*_~".includes(last)) {
      end--;
    } else {
      break;
    }
  }
  return end;
}

function renderMention(name: string, options: MarkdownOptions): string {
  const custom = options.mention ? options.mention(name) : undefined;
  if (custom === null) return escapeHtml(`@${name}`);
  const label = escapeHtml(custom?.label ?? `@${name}`);
  const href = custom?.href === undefined ? null : safeMentionHref(custom.href);
  if (href !== null) return `<a class="mention" href="${escapeHtml(href)}" ${LINK_ATTRS} data-username="${escapeHtml(name)}">${label}</a>`;
  return `<span class="mention" data-username="${escapeHtml(name)}">${label}</span>`;
}
