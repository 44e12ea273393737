/**
 * The built web client (web/dist, scripts/build-web.mjs): its assets under /assets/ carry a
 * content hash in their names and are cached forever; the page that names them never is.
 *
 * With ASSET_BASE_URL the page names its assets on a CDN that pulls /assets/ from the nodes: the
 * built page is rewritten once at startup, in memory (a new build needs a restart anyway: the
 * static routes are listed at startup), its CSP allows the CDN's origin, and the assets answer
 * with `Access-Control-Allow-Origin: *`, since a module script from another origin is fetched
 * with CORS and refused without it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../observability/log.js';

const PAGE = 'index.html';
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Where the page's assets live when not on the node: `base` is prefixed to `/assets/<name>`. */
export interface AssetHost {
  base: string;
  /** For the CSP, which names origins. */
  origin: string;
}

export function assetHost(assetBaseUrl: string): AssetHost | null {
  if (assetBaseUrl === '') return null;
  const url = new URL(assetBaseUrl);
  return { base: `${url.origin}${url.pathname.replace(/\/+$/, '')}`, origin: url.origin };
}

/**
 * The page's policy. A CDN is allowed for scripts and styles, and for the images and fonts a
 * stylesheet loaded from it would name relative to itself; it serves the page's scripts, so
 * trusting it with images costs nothing more.
 */
export function contentSecurityPolicy(host: AssetHost | null): string {
  const assets = host === null ? "'self'" : `'self' ${host.origin}`;
  // blob: for the previews the page makes of images chosen to upload, before they are sent.
  const img = host === null ? "'self' data: blob:" : `'self' data: blob: ${host.origin}`;
  const font = host === null ? '' : ` font-src ${assets};`;
  return `default-src 'self'; connect-src 'self' ws: wss:; img-src ${img};${font} style-src ${assets}; script-src ${assets}; frame-ancestors 'none'`;
}

/**
 * Named as scripts/build-web.mjs names them (`assets/[name].[hash]`, esbuild's hash being 8
 * characters of base32), source maps included. Anything else under assets/ may change under the
 * same name, so it is revalidated like the page.
 */
export function isHashedAsset(relative: string): boolean {
  return /^assets\/[^/]+\.[A-Z2-7]{8}\.[a-z0-9]+(?:\.map)?$/.test(relative.split(path.sep).join('/'));
}

const escapeAttribute = (s: string): string => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The page with every `src` or `href` of a `<script>` or `<link>` naming /assets/ pointed at the
 * asset host, and marked `crossorigin` (anonymous): a module script is fetched with CORS anyway,
 * and the stylesheet the same way, so a CDN that drops the CORS header fails both at once, and
 * visibly, rather than one of them.
 */
export function rewritePage(html: string, host: AssetHost): { html: string; rewritten: number } {
  let rewritten = 0;
  const out = html.replace(/<(script|link)\b([^>]*?)\s(src|href)="\/assets\/([^"]+)"([^>]*)>/g, (_tag, name: string, before: string, attr: string, file: string, after: string) => {
    rewritten++;
    const cors = /\scrossorigin\b/.test(`${before} ${after}`) ? '' : ' crossorigin';
    return `<${name}${before} ${attr}="${escapeAttribute(`${host.base}/assets/`)}${file}"${cors}${after}>`;
  });
  return { html: out, rewritten };
}

interface Page {
  body: string;
  etag: string;
  lastModified: string;
  modifiedMs: number;
}

/** True when the client's copy (If-None-Match, else If-Modified-Since) is still the page. */
function fresh(request: FastifyRequest, page: Page): boolean {
  const match = request.headers['if-none-match'];
  if (match !== undefined) return match.split(',').some((tag) => tag.trim().replace(/^W\//, '') === page.etag || tag.trim() === '*');
  const since = Date.parse(request.headers['if-modified-since'] ?? '');
  return !Number.isNaN(since) && Math.floor(page.modifiedMs / 1000) * 1000 <= since;
}

/** Serves `webDir` at /: the page at / and /index.html (rewritten for a CDN when one is set), the rest as files. */
export async function registerWebClient(app: FastifyInstance, webDir: string, assetBaseUrl: string, log: Logger): Promise<void> {
  const host = assetHost(assetBaseUrl);
  const csp = contentSecurityPolicy(host);
  const pageFile = path.join(webDir, PAGE);
  let page: Page | null = null;
  if (host !== null && existsSync(pageFile)) {
    const { html, rewritten } = rewritePage(readFileSync(pageFile, 'utf8'), host);
    if (rewritten === 0) log.warn({ webDir, assetBaseUrl }, 'ASSET_BASE_URL is set but the page names no /assets/ file: nothing will load from it');
    const modified = statSync(pageFile).mtime;
    page = { body: html, etag: `"${createHash('sha256').update(html).digest('base64url').slice(0, 27)}"`, lastModified: modified.toUTCString(), modifiedMs: modified.getTime() };
  }

  await app.register(fastifyStatic, {
    root: webDir,
    wildcard: false,
    // With a CDN the page is the rewritten one below, never the file.
    ...(page === null ? { index: PAGE } : { index: false, globIgnore: [PAGE] }),
    // Cache-Control is set per file below.
    cacheControl: false,
    setHeaders: (res, filePath) => {
      const relative = path.relative(webDir, filePath);
      res.setHeader('Cache-Control', isHashedAsset(relative) ? IMMUTABLE : 'no-cache');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Content-Security-Policy', csp);
      if (host !== null && relative.startsWith(`assets${path.sep}`)) res.setHeader('Access-Control-Allow-Origin', '*');
    },
  });

  if (page !== null) {
    const served = page;
    const send = async (request: FastifyRequest, reply: FastifyReply) => {
      reply
        .header('Cache-Control', 'no-cache')
        .header('Content-Security-Policy', csp)
        .header('ETag', served.etag)
        .header('Last-Modified', served.lastModified)
        .type('text/html; charset=utf-8');
      if (fresh(request, served)) return reply.status(304).send();
      return reply.send(served.body);
    };
    app.get('/', send);
    app.get(`/${PAGE}`, send);
  }
}
