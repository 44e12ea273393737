/**
 * deploy/nginx.conf caching the web client's assets, with a real nginx in front of one node: the
 * first request for an asset is a MISS, every later one a HIT with the node's immutable
 * Cache-Control, and the node serves each asset once (its own request count says so, and with
 * the node stopped the assets still come from the cache); concurrent misses make one request
 * (proxy_cache_lock); the page is never cached; a missing asset is a 404 in Parley's shape, not
 * cached. And what nginx forwards to every location: Host as the browser sent it (a change
 * made with the session cookie is allowed from the page's origin) and X-Forwarded-For (so
 * /metrics is not served through it).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Fleet, NGINX } from '../support/fleet.js';
import { scrape, total } from '../support/metrics.js';
import { api } from '../support/server.js';
import { requireBinary } from '../support/services.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const IMMUTABLE = 'public, max-age=31536000, immutable';

async function get(base: string, route: string) {
  const res = await fetch(`${base}${route}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

if (requireBinary(NGINX, 'nginx', 'nginx caching assets')) {
  describe('nginx caching the web client assets', { concurrency: false }, () => {
    let fleet: Fleet;
    let dataDir: string;
    /** The assets the page names, read from the page served through nginx. */
    let assets: string[] = [];

    /** How many GETs of `route` the node itself answered, from its own metrics (read directly, not through nginx). */
    const served = async (route: string, status = '200'): Promise<number> =>
      total(await scrape(fleet.nodes[0]?.url as string), 'parley_http_request_duration_seconds_count', { method: 'GET', route, status_code: status });

    before(async () => {
      // The page under test is the one built from the current sources.
      execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-web.mjs')], { cwd: ROOT, stdio: 'pipe', timeout: 60_000 });
      dataDir = mkdtempSync(path.join(tmpdir(), 'parley-nginx-assets-'));
      fleet = await Fleet.start({ nodes: 1, workersPerNode: 1, env: { DATA_DIR: dataDir, LOG_LEVEL: 'warn', SCRYPT_COST: '10' } });
    });
    after(async () => {
      await fleet?.stop();
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    });

    it('never caches the page', async () => {
      const before = await served('/');
      for (let i = 0; i < 2; i++) {
        const page = await get(fleet.url, '/');
        assert.equal(page.status, 200);
        assert.equal(page.headers.get('cache-control'), 'no-cache');
        assert.ok(page.headers.get('x-cache-status') === null || page.headers.get('x-cache-status') === 'BYPASS', `the page went through the cache: ${page.headers.get('x-cache-status')}`);
        assets = [...page.body.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
      }
      assert.equal(await served('/'), before + 2, 'each request for the page reached the node');
      assert.equal(assets.length, 2, `the page names a script and a stylesheet: ${assets.join(', ')}`);
    });

    it('serves each asset from the node once: MISS, then HIT, immutable', async () => {
      for (const asset of assets) {
        const first = await get(fleet.url, asset);
        assert.equal(first.status, 200, asset);
        assert.equal(first.headers.get('x-cache-status'), 'MISS', asset);
        const second = await get(fleet.url, asset);
        assert.equal(second.status, 200, asset);
        assert.equal(second.headers.get('x-cache-status'), 'HIT', asset);
        assert.equal(await served(asset), 1, `${asset}: the HIT reached the node`);
        const direct = await get(fleet.nodes[0]?.url as string, asset);
        for (const res of [first, second]) {
          assert.equal(res.headers.get('cache-control'), IMMUTABLE, `${asset}: the node's Cache-Control passes through`);
          assert.equal(res.headers.get('etag'), direct.headers.get('etag'), `${asset}: the node's ETag passes through`);
          assert.equal(res.headers.get('last-modified'), direct.headers.get('last-modified'));
          assert.equal(res.body, direct.body);
        }
      }
    });

    it('makes one request to the node for concurrent misses (proxy_cache_lock)', async () => {
      const map = `${assets[0] as string}.map`;
      const results = await Promise.all(Array.from({ length: 8 }, () => get(fleet.url, map)));
      for (const res of results) assert.equal(res.status, 200);
      assert.equal(await served(map), 1, `statuses ${results.map((r) => r.headers.get('x-cache-status')).join(', ')}`);
    });

    it('does not cache a missing asset, and answers it in Parley\'s error shape', async () => {
      for (let i = 0; i < 2; i++) {
        const res = await get(fleet.url, '/assets/main.AAAAAAAA.js');
        assert.equal(res.status, 404);
        assert.equal(res.headers.get('x-cache-status'), 'MISS');
        assert.deepEqual(JSON.parse(res.body), { error: { code: 'not_found', message: 'No such endpoint.' } });
      }
    });

    it('passes Host and X-Forwarded-For to the node', async () => {
      const reg = await api(fleet.url, 'POST', '/api/v1/auth/register', { body: { username: `ngx_${Date.now() % 100000}`, password: 'correct horse battery' } });
      assert.equal(reg.status, 201);
      // The node compares Origin with the Host nginx passes on: it must be the one the browser used.
      const room = await api(fleet.url, 'POST', '/api/v1/rooms', { headers: { cookie: `parley_session=${reg.body.token as string}`, origin: fleet.url }, body: { name: 'n', visibility: 'public' } });
      assert.equal(room.status, 201, JSON.stringify(room.body));
      assert.equal((await get(fleet.url, '/metrics')).status, 403, '/metrics is served to loopback only, not through a proxy');

      // An upload far over the 128 KiB of other bodies goes through, streamed; a file read back too.
      const file = Buffer.alloc(3 * 1024 * 1024, 0x61);
      const up = await api(fleet.url, 'POST', `/api/v1/rooms/${room.body.room.id as string}/uploads?name=big.txt`, { token: reg.body.token as string, rawBody: file, headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(up.status, 201, JSON.stringify(up.body).slice(0, 300));
      const back = await fetch(`${fleet.url}/api/v1/files/${up.body.upload.id as string}`, { headers: { authorization: `Bearer ${reg.body.token as string}` }, signal: AbortSignal.timeout(10_000) });
      assert.equal(Buffer.from(await back.arrayBuffer()).length, file.length);
      const tooBig = await api(fleet.url, 'POST', '/api/v1/rooms', { token: reg.body.token as string, rawBody: JSON.stringify({ name: 'x'.repeat(200_000), visibility: 'public' }), headers: { 'content-type': 'application/json' } });
      assert.equal(tooBig.status, 413, 'other bodies keep the small limit');
    });

    it('serves the assets from its cache with the node stopped', async () => {
      await fleet.nodes[0]?.stop();
      for (const asset of assets) {
        const res = await get(fleet.url, asset);
        assert.equal(res.status, 200, asset);
        assert.equal(res.headers.get('x-cache-status'), 'HIT', asset);
        assert.equal(res.headers.get('cache-control'), IMMUTABLE);
      }
      assert.equal((await get(fleet.url, '/')).status, 502, 'the page is not served from anywhere but a node');
    });
  });
}
