/**
 * A strict checker of the Markdown renderer's output (src/protocol/markdown.ts), shared by the
 * renderer's own tests and those of everything that embeds it (the HTML export).
 */
import assert from 'node:assert/strict';

/** The tags the renderer may write, and the attributes each may carry. */
const ALLOWED: Record<string, readonly string[]> = {
  p: [],
  br: [],
  em: [],
  strong: [],
  del: [],
  code: ['class'],
  pre: [],
  blockquote: [],
  ul: [],
  ol: ['start'],
  li: [],
  a: ['class', 'href', 'rel', 'target', 'data-username'],
  span: ['class', 'data-username'],
};
const ENTITY = /^&(?:amp|lt|gt|quot|#39);/;
const ATTRIBUTE = /^ ([a-z-]+)="([^"<>]*)"/;
const DECODE: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
const decode = (s: string): string => s.replace(/&(?:amp|lt|gt|quot|#39);/g, (e) => DECODE[e] ?? e);

/**
 * A strict reading of the output, as a browser's tokenizer would start it: every `<` opens an
 * allowed tag whose attributes are allowed, double-quoted and free of markup; text holds no
 * `<`, `>`, `"` or `'` and only the five entities; tags are well nested; every link has exactly
 * the rel and target, and an http(s) or mailto href. Throws on the first fault; returns the
 * text content (entities decoded, <br> as a newline) and how deep the tags nest.
 */
export function checkRenderedHtml(html: string): { text: string; depth: number } {
  const open: string[] = [];
  let text = '';
  let depth = 0;
  let i = 0;
  while (i < html.length) {
    const c = html[i] as string;
    if (c === '<') {
      const tag = /^<(\/?)([a-z]+)/.exec(html.slice(i, i + 20));
      assert.ok(tag, `not a tag at ${i}: ${html.slice(i, i + 40)}`);
      const [whole, slash, name] = tag as unknown as [string, string, string];
      assert.ok(name in ALLOWED, `tag <${name}> is not allowed`);
      let j = i + whole.length;
      const attrs = new Map<string, string>();
      for (let m = ATTRIBUTE.exec(html.slice(j)); m !== null; m = ATTRIBUTE.exec(html.slice(j))) {
        const [full, attr, value] = m as unknown as [string, string, string];
        assert.ok(ALLOWED[name]?.includes(attr), `attribute ${attr} on <${name}>`);
        assert.ok(!attrs.has(attr), `duplicate ${attr}`);
        assert.ok(!/[&](?!(?:amp|lt|gt|quot|#39);)/.test(value), `bare & in ${attr}`);
        attrs.set(attr, decode(value));
        j += full.length;
      }
      assert.equal(html[j], '>', `unterminated <${name}>: ${html.slice(i, j + 20)}`);
      assert.ok(!/\son\w+\s*=|\sstyle\s*=/i.test(html.slice(i, j + 1)), 'a handler or a style');
      if (slash) {
        assert.ok(attrs.size === 0, 'attributes on a closing tag');
        assert.equal(open.pop(), name, `</${name}> closes another tag`);
      } else if (name === 'br') {
        text += '\n';
      } else {
        open.push(name);
        depth = Math.max(depth, open.length);
      }
      if (name === 'a' && !slash) {
        assert.equal(attrs.get('rel'), 'noopener noreferrer nofollow');
        assert.equal(attrs.get('target'), '_blank');
        const href = attrs.get('href') ?? '';
        assert.ok(/^(?:https?:\/\/[^/\\]|mailto:|\/(?![/\\]))/i.test(href), `href ${href}`);
        // The scheme, whitespace and controls stripped as a browser would (a host named
        // "javascript", as in http://javascript:0/, is no script).
        assert.ok(!/^(?:javascript|vbscript|data):/i.test(href.replace(/[\s\p{Cc}]/gu, '')), `href ${href}`);
      }
      i = j + 1;
      continue;
    }
    if (c === '&') {
      const e = ENTITY.exec(html.slice(i, i + 6));
      assert.ok(e, `bare & at ${i}`);
      text += DECODE[(e as RegExpExecArray)[0]];
      i += (e as RegExpExecArray)[0].length;
      continue;
    }
    assert.ok(!'>"\''.includes(c), `unescaped ${c} in text at ${i}`);
    text += c;
    i++;
  }
  assert.deepEqual(open, [], 'unclosed tags');
  assert.ok(!/<script/i.test(html), 'a script');
  return { text, depth };
}
