/**
 * The reference page (src/http/reference-page.ts): it lists every operation of the document with
 * its parameters, body and answers, escapes every text it takes from the document, and is served
 * self-contained under a policy that allows its one inline style and nothing else.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { OpenApiDocument } from '../../src/http/openapi.js';
import { REFERENCE_PAGE_CSP, renderReferencePage } from '../../src/http/reference-page.js';
import { startTestServer, type TestServer } from '../support/server.js';

const HOSTILE = '<script>alert("x")</script>&<img src=x onerror=alert(1)>';

/** A document whose every text field is hostile markup. */
function hostileDocument(): OpenApiDocument {
  return {
    openapi: '3.1.0',
    info: { title: HOSTILE, version: HOSTILE, description: `${HOSTILE}\n\nwith \`${HOSTILE}\` in code` },
    servers: [{ url: '/', description: HOSTILE }],
    tags: [{ name: HOSTILE }],
    paths: {
      '/api/v1/x/{id}': {
        post: {
          operationId: `op"><script>`,
          summary: HOSTILE,
          description: HOSTILE,
          tags: [HOSTILE],
          security: [{ [HOSTILE]: [] }],
          parameters: [{ name: HOSTILE, in: 'path', required: true, description: HOSTILE, schema: { type: 'string', pattern: HOSTILE, default: HOSTILE } }],
          requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { [HOSTILE]: { type: 'string', description: HOSTILE, enum: [HOSTILE] } }, required: [HOSTILE] } } } },
          responses: {
            '200': { description: HOSTILE, content: { [HOSTILE]: { schema: { $ref: `#/components/schemas/${HOSTILE}` } } } },
            '404': { $ref: `#/components/responses/${HOSTILE}` },
          },
        },
      },
    },
    components: {
      schemas: { [HOSTILE]: { type: 'object', description: HOSTILE, properties: { [HOSTILE]: { const: HOSTILE } } } },
      responses: { [HOSTILE]: { description: HOSTILE, headers: { [HOSTILE]: { description: HOSTILE, schema: {} } } } },
      securitySchemes: {},
    },
  };
}

describe('API reference page', () => {
  let server: TestServer;
  let doc: OpenApiDocument;
  let page: string;
  let headers: Headers;

  before(async () => {
    server = await startTestServer();
    doc = (await (await fetch(`${server.url}/api/v1/openapi.json`)).json()) as OpenApiDocument;
    const res = await fetch(`${server.url}/api/v1/docs`);
    assert.equal(res.status, 200);
    headers = res.headers;
    page = await res.text();
  });
  after(async () => server.stop());

  it('is the document rendered', () => {
    assert.equal(page, renderReferencePage(doc));
    assert.match(headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
  });

  it('lists every operation with its method, path, parameters, body and answers', () => {
    const operations = Object.entries(doc.paths).flatMap(([p, methods]) => Object.entries(methods).map(([method, op]) => ({ path: p, method, op })));
    assert.ok(operations.length >= 20);
    for (const { path: p, method, op } of operations) {
      const start = page.indexOf(`<section class="op" id="op-${op.operationId}">`);
      assert.ok(start >= 0, `${op.operationId} has no section`);
      const section = page.slice(start, page.indexOf('</section>', start));
      assert.ok(section.includes(`${method.toUpperCase()}</span> <code>${p}</code>`), `${op.operationId}: method and path`);
      assert.ok(page.includes(`href="#op-${op.operationId}"`), `${op.operationId}: in the contents`);
      for (const parameter of op.parameters ?? []) assert.ok(section.includes(`<td><code>${parameter.name}</code></td><td>${parameter.in}</td>`), `${op.operationId}: parameter ${parameter.name}`);
      const body = op.requestBody?.content['application/json']?.schema;
      for (const field of Object.keys(body?.properties ?? {})) assert.ok(section.includes(`<td><code>${field}</code></td>`), `${op.operationId}: body field ${field}`);
      for (const [status, answer] of Object.entries(op.responses)) {
        assert.ok(section.includes(`<tr><td>${status}</td>`), `${op.operationId}: answer ${status}`);
        if ('$ref' in answer) assert.ok(section.includes(`href="#error-${answer.$ref.split('/').pop()}"`), `${op.operationId}: error ${status}`);
      }
    }
    for (const name of Object.keys(doc.components.schemas)) assert.ok(page.includes(`id="schema-${name}"`), `schema ${name}`);
    for (const code of Object.keys(doc.components.responses)) assert.ok(page.includes(`id="error-${code}"`), `error ${code}`);
  });

  it('escapes every text it takes from the document', () => {
    const html = renderReferencePage(hostileDocument());
    assert.ok(!html.includes('<script'), 'a script tag got through');
    assert.ok(!html.includes('<img'), 'an img tag got through');
    assert.ok(html.includes('id="op-op&quot;&gt;&lt;script&gt;"'), 'an attribute could be closed');
    assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&lt;img src=x onerror=alert(1)&gt;'));
    // Code spans are made after escaping, so they hold escaped text too.
    assert.ok(html.includes('<code>&lt;script&gt;'));
  });

  it('is self-contained: no script, nothing fetched, its one style allowed by hash', () => {
    assert.ok(!/<script|<link|<img|<iframe|\ssrc=|@import|url\(/i.test(page));
    assert.ok(!/https?:\/\//.test(page), 'no absolute URL');
    const styles = [...page.matchAll(/<style>([\s\S]*?)<\/style>/g)];
    assert.equal(styles.length, 1);
    assert.ok(!/\sstyle=/.test(page), 'no inline style attribute (the policy would block it)');
    const hash = createHash('sha256')
      .update(styles[0]?.[1] ?? '')
      .digest('base64');
    const csp = headers.get('content-security-policy') ?? '';
    assert.equal(csp, REFERENCE_PAGE_CSP);
    assert.ok(csp.includes(`style-src 'sha256-${hash}'`));
    for (const directive of ["default-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"]) assert.ok(csp.includes(directive), directive);
    assert.equal(headers.get('x-content-type-options'), 'nosniff');
  });

  it('is cacheable with an ETag', async () => {
    const etag = headers.get('etag') ?? '';
    assert.match(etag, /^"[\w-]+"$/);
    const again = await fetch(`${server.url}/api/v1/docs`, { headers: { 'if-none-match': `"other", ${etag}` } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), '');
  });
});
