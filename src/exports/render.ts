/**
 * Renders a room's history for export, a page of messages at a time: NDJSON (one message view
 * a line, the wire shape of docs/protocol.md) or a readable, self-contained HTML page. Pure and
 * synchronous: it runs in the worker-thread pool (src/workers/tasks.ts), never on the event
 * loop, so a large export costs the server's loop nothing but the reads.
 */
import { escapeHtml, renderMarkdown } from '../protocol/markdown.js';
import type { Message } from '../protocol/wire.js';

export type ExportFormat = 'ndjson' | 'html';

export interface ExportHeader {
  roomName: string;
  roomId: string;
  exportedAt: string;
  exportedBy: string;
}

/** The start of the file (nothing for NDJSON). */
export function renderHead(format: ExportFormat, header: ExportHeader): string {
  if (format === 'ndjson') return '';
  const title = escapeHtml(`${header.roomName} — Parley export`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
header{border-bottom:1px solid #ddd;margin-bottom:1rem}
.m{padding:.35rem 0;border-bottom:1px solid #f0f0f0}
.a{font-weight:600}.t{color:#777;font-size:.8rem;margin-left:.5rem}
.b{overflow-wrap:anywhere;margin-top:.15rem}.b p{margin:.2rem 0}
.b pre{background:#f5f5f7;padding:.5rem;overflow-x:auto;white-space:pre}.b code{font:13px ui-monospace,monospace;background:#f5f5f7;padding:0 .2rem}
.b blockquote{margin:.2rem 0;padding-left:.6rem;border-left:3px solid #ccc;color:#555}.b .mention{font-weight:600;color:#0b57d0}
.d{color:#999;font-style:italic}
</style>
</head>
<body>
<header><h1>${escapeHtml(header.roomName)}</h1>
<p>Room ${escapeHtml(header.roomId)}, exported ${escapeHtml(header.exportedAt)} by ${escapeHtml(header.exportedBy)}.</p></header>
<main>
`;
}

/**
 * One page of messages, oldest first. Bodies are rendered by the one Markdown renderer the web
 * app uses (escaped by default, links http(s) and mailto only); mentions stay plain labelled
 * text, as the file links nowhere.
 */
export function renderPage(format: ExportFormat, messages: Message[]): string {
  if (format === 'ndjson') {
    let out = '';
    for (const m of messages) out += `${JSON.stringify(m)}\n`;
    return out;
  }
  let out = '';
  for (const m of messages) {
    const edited = m.editedAt === null ? '' : ' (edited)';
    const body = m.deleted ? '<div class="b d">This message was deleted.</div>' : `<div class="b">${renderMarkdown(m.body)}</div>`;
    out += `<article class="m" id="m${m.seq}"><span class="a">${escapeHtml(m.author.displayName)}</span><span class="t">@${escapeHtml(m.author.username)} · <time datetime="${escapeHtml(m.createdAt)}">${escapeHtml(m.createdAt)}</time>${edited}</span>${body}</article>\n`;
  }
  return out;
}

/** The end of the file, with the count of messages written. */
export function renderTail(format: ExportFormat, count: number): string {
  if (format === 'ndjson') return '';
  return `</main>\n<footer><p>${count} message${count === 1 ? '' : 's'}.</p></footer>\n</body>\n</html>\n`;
}
