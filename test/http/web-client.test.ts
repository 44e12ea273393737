/**
 * The web client as the node serves it, from a built directory laid out as scripts/build-web.mjs
 * lays it out: without ASSET_BASE_URL exactly as before (the page as built, assets immutable);
 * with it, a page naming its assets on the CDN with a CSP that allows the CDN, revalidated with
 * ETag and Last-Modified, and assets the CDN can pull with CORS.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { isHashedAsset, rewritePage } from '../../src/http/web-client.js';
import { startTestServer, type TestServer } from '../support/server.js';

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="/assets/style.2TYSIRSF.css" />
  </head>
  <body>
    <div id="app"></div>
    <script type="module" src="/assets/main.376CHZOB.js"></script>
  </body>
</html>
`;
const CDN_PAGE = PAGE.replace('href="/assets/style.2TYSIRSF.css"', 'href="https://cdn.example.com/parley/assets/style.2TYSIRSF.css" crossorigin').replace(
  'src="/assets/main.376CHZOB.js"',
  'src="https://cdn.example.com/parley/assets/main.376CHZOB.js" crossorigin',
);
/** The policy the node sends without a CDN (blob: images: the previews of files chosen to upload). */
const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";
const IMMUTABLE = 'public, max-age=31536000, immutable';
const FILES: Record<string, string> = {
  'index.html': PAGE,
  'assets/main.376CHZOB.js': 'console.log(1);\n',
  'assets/main.376CHZOB.js.map': '{}\n',
  'assets/style.2TYSIRSF.css': 'body{margin:0}\n',
  // Not named by the build: may change under the same name.
  'assets/logo.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
};

let webDir: string;

before(() => {
  webDir = mkdtempSync(path.join(tmpdir(), 'parley-web-'));
  mkdirSync(path.join(webDir, 'assets'));
  for (const [name, text] of Object.entries(FILES)) writeFileSync(path.join(webDir, name), text);
});
after(() => rmSync(webDir, { recursive: true, force: true }));

async function get(base: string, route: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await fetch(`${base}${route}`, { method, headers, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

async function assertAssets(base: string, cors: boolean): Promise<void> {
  for (const name of ['main.376CHZOB.js', 'main.376CHZOB.js.map', 'style.2TYSIRSF.css']) {
    const res = await get(base, `/assets/${name}`);
    assert.equal(res.status, 200, name);
    assert.equal(res.body, FILES[`assets/${name}`]);
    assert.equal(res.headers.get('cache-control'), IMMUTABLE, name);
    assert.ok(res.headers.get('etag'), `${name} has an ETag`);
    assert.ok(res.headers.get('last-modified'), `${name} has a Last-Modified`);
    assert.equal(res.headers.get('access-control-allow-origin'), cors ? '*' : null, name);
  }
  const unhashed = await get(base, '/assets/logo.svg');
  assert.equal(unhashed.status, 200);
  assert.equal(unhashed.headers.get('cache-control'), 'no-cache', 'a name without a hash is revalidated');

  const missing = await get(base, '/assets/main.AAAAAAAA.js');
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(JSON.parse(missing.body), { error: { code: 'not_found', message: 'No such endpoint.' } });
  assert.equal(missing.headers.get('cache-control'), null, 'a 404 is not made cacheable');
}

describe('the web client without ASSET_BASE_URL', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ WEB_DIR: webDir });
  });
  after(() => server.stop());

  it('serves the page as built, with the policy it always had', async () => {
    for (const route of ['/', '/index.html']) {
      const res = await get(server.url, route);
      assert.equal(res.status, 200);
      assert.equal(res.body, PAGE);
      assert.equal(res.headers.get('cache-control'), 'no-cache');
      assert.equal(res.headers.get('content-security-policy'), CSP);
      assert.ok(res.headers.get('etag'));
      assert.ok(res.headers.get('last-modified'));
    }
  });

  it('serves hashed assets immutable, without CORS; others revalidated; an unknown one 404s', async () => {
    await assertAssets(server.url, false);
  });
});

describe('the web client with ASSET_BASE_URL', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ WEB_DIR: webDir, ASSET_BASE_URL: 'https://cdn.example.com/parley/' });
  });
  after(() => server.stop());

  it('names its assets on the CDN, crossorigin, and its policy allows the CDN', async () => {
    for (const route of ['/', '/index.html']) {
      const res = await get(server.url, route);
      assert.equal(res.status, 200);
      assert.equal(res.body, CDN_PAGE);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
      assert.equal(res.headers.get('cache-control'), 'no-cache');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /(^|; )script-src 'self' https:\/\/cdn\.example\.com(;|$)/);
      assert.match(csp, /(^|; )style-src 'self' https:\/\/cdn\.example\.com(;|$)/);
      assert.match(csp, /(^|; )default-src 'self'(;|$)/);
      assert.match(csp, /(^|; )connect-src 'self' ws: wss:(;|$)/, 'the socket and the API stay on the page origin');
      assert.match(csp, /frame-ancestors 'none'/);
    }
  });

  it('is revalidated with ETag and Last-Modified: 304 when unchanged', async () => {
    const first = await get(server.url, '/');
    const etag = first.headers.get('etag') as string;
    const lastModified = first.headers.get('last-modified') as string;
    assert.match(etag, /^"[\w-]+"$/);
    assert.ok(!Number.isNaN(Date.parse(lastModified)));
    const byTag = await get(server.url, '/', { 'if-none-match': etag });
    assert.equal(byTag.status, 304);
    assert.equal(byTag.body, '');
    assert.equal((await get(server.url, '/index.html', { 'if-none-match': `"other", W/${etag}` })).status, 304);
    assert.equal((await get(server.url, '/', { 'if-none-match': '"other"' })).status, 200);
    assert.equal((await get(server.url, '/', { 'if-modified-since': lastModified })).status, 304);
    assert.equal((await get(server.url, '/', { 'if-modified-since': new Date(Date.parse(lastModified) - 60_000).toUTCString() })).status, 200);
    const head = await get(server.url, '/', {}, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('etag'), etag);
  });

  it('serves the assets the CDN pulls immutable and with CORS; an unknown one 404s', async () => {
    await assertAssets(server.url, true);
  });
});

describe('the page rewrite', () => {
  it('leaves a crossorigin already there, and what is not under /assets/', () => {
    const host = { base: 'http://127.0.0.1:9/x', origin: 'http://127.0.0.1:9' };
    const { html, rewritten } = rewritePage('<script type="module" crossorigin="anonymous" src="/assets/a.AAAAAAAA.js"></script><link rel="icon" href="/favicon.ico">', host);
    assert.equal(rewritten, 1);
    assert.equal(html, '<script type="module" crossorigin="anonymous" src="http://127.0.0.1:9/x/assets/a.AAAAAAAA.js"></script><link rel="icon" href="/favicon.ico">');
  });

  it('knows a hashed name from another', () => {
    assert.ok(isHashedAsset('assets/main.376CHZOB.js'));
    assert.ok(isHashedAsset('assets/style.2TYSIRSF.css.map'));
    assert.ok(!isHashedAsset('assets/logo.svg'));
    assert.ok(!isHashedAsset('index.html'));
    assert.ok(!isHashedAsset('elsewhere/main.376CHZOB.js'));
  });

  it('ASSET_BASE_URL must be a base that paths are appended to', () => {
    assert.equal(loadConfig({ ASSET_BASE_URL: 'https://cdn.example.com/parley' }).ASSET_BASE_URL, 'https://cdn.example.com/parley');
    for (const bad of ['ftp://cdn.example.com', 'https://cdn.example.com/?v=1', 'https://cdn.example.com/#x', 'https://user:pw@cdn.example.com', 'cdn.example.com']) {
      assert.throws(() => loadConfig({ ASSET_BASE_URL: bad }), (e: unknown) => e instanceof ConfigError && e.message.startsWith('ASSET_BASE_URL must be'), bad);
    }
  });
});
