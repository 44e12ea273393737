import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderHead, renderPage, renderTail } from '../../src/exports/render.js';
import type { Message } from '../../src/protocol/wire.js';
import { checkRenderedHtml } from '../protocol/html-check.js';
import { XSS_CORPUS } from '../protocol/xss-corpus.js';

const message = (seq: number, body: string): Message => ({
  roomId: 'r1',
  seq,
  id: `m${seq}`,
  author: { id: 'u1', username: 'alice', displayName: 'Alice <b>' },
  body,
  createdAt: '2026-12-02T10:00:00.000Z',
  editedAt: null,
  deleted: false,
  clientMsgId: null,
});

/** The rendered bodies of a page, in order (each article's `<div class="b">` content). */
const bodies = (html: string): string[] => [...html.matchAll(/<div class="b">([\s\S]*?)<\/div><\/article>/g)].map((m) => m[1] as string);

describe('HTML export rendering', () => {
  it('renders bodies with the shared Markdown renderer', () => {
    const html = renderPage('html', [message(1, '**bold** and `code` and [docs](https://example.com/a?b=1&c=2)\n\n> quoted\n\n- one\n- two\n\nhi @bob')]);
    const [body] = bodies(html);
    assert.ok(body !== undefined);
    assert.match(body, /<strong>bold<\/strong>/);
    assert.match(body, /<code>code<\/code>/);
    assert.match(body, /<a href="https:\/\/example\.com\/a\?b=1&amp;c=2" rel="noopener noreferrer nofollow" target="_blank">docs<\/a>/);
    assert.match(body, /<blockquote>/);
    assert.match(body, /<ul><li>one<\/li><li>two<\/li><\/ul>/);
    assert.match(body, /<span class="mention" data-username="bob">@bob<\/span>/);
    checkRenderedHtml(body);
    // Names and times stay escaped text.
    assert.ok(html.includes('Alice &lt;b&gt;'));
  });

  it('renders every payload of the XSS corpus inert', () => {
    const html = renderPage('html', XSS_CORPUS.map((body, i) => message(i + 1, body)));
    const rendered = bodies(html);
    assert.equal(rendered.length, XSS_CORPUS.length);
    for (const [i, body] of rendered.entries()) {
      assert.doesNotThrow(() => checkRenderedHtml(body), `payload ${i}: ${XSS_CORPUS[i]}`);
    }
    assert.ok(!/<script/i.test(html));
  });

  it('keeps deleted messages as a tombstone and NDJSON as the wire shape', () => {
    const deleted = { ...message(2, ''), deleted: true };
    assert.match(renderPage('html', [deleted]), /This message was deleted\./);
    const line = renderPage('ndjson', [message(3, '**raw**')]);
    assert.deepEqual(JSON.parse(line), message(3, '**raw**'));
    assert.equal(renderHead('ndjson', { roomName: 'x', roomId: 'r', exportedAt: 't', exportedBy: 'b' }), '');
    assert.match(renderTail('html', 1), /1 message\./);
  });
});
