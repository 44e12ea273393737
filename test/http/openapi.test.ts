/**
 * The API reference (src/http/openapi.ts) against the server it describes: every route Fastify
 * serves is documented with its method and path, and every documented operation is served; the
 * document holds together as OpenAPI 3.1 (there is no validator among the dependencies, so the
 * essentials are checked here); it is served cacheable, with an ETag.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type OpenApiDocument, openApiPath } from '../../src/http/openapi.js';
import { errorsOf, restApiOf } from '../../src/http/route.js';
import { DEFAULT_WEB_DIR } from '../../src/paths.js';
import { ERRORS } from '../../src/protocol/catalogue.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Served but not documented, on purpose: the probes are for load balancers and Prometheus (see
 * docs/operations.md), not for clients, and /metrics is not JSON; static files are the web
 * client. Anything under /api/ is documented, whatever this list says.
 */
const PROBES = new Set(['/healthz', '/readyz', '/metrics']);

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

describe('OpenAPI document', () => {
  let server: TestServer;
  let doc: OpenApiDocument;
  let etag: string;

  before(async () => {
    server = await startTestServer();
    const res = await fetch(`${server.url}/api/v1/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    etag = res.headers.get('etag') ?? '';
    doc = (await res.json()) as OpenApiDocument;
  });
  after(async () => server.stop());

  const operations = () =>
    Object.entries(doc.paths).flatMap(([p, methods]) => Object.entries(methods).map(([method, op]) => ({ path: p, method: method.toUpperCase(), op })));

  describe('routes', () => {
    const webDir = () => (server.parley.config.WEB_DIR === '' ? DEFAULT_WEB_DIR : server.parley.config.WEB_DIR);
    const isStaticFile = (method: string, url: string) =>
      (method === 'GET' || method === 'HEAD') && !url.startsWith('/api/') && (url === '/' || existsSync(path.join(webDir(), url)));

    it('every route Fastify serves is documented with the same method and path, but the probes and static files', () => {
      const served = restApiOf(server.parley.http).served;
      assert.ok(served.length > 0, 'the onRoute hook saw no route');
      const documented = new Set(operations().map((o) => `${o.method} ${o.path}`));
      const gets = new Set(served.filter((r) => r.method === 'GET').map((r) => r.url));
      for (const { method, url } of served) {
        // Fastify adds a HEAD route beside every GET route: it answers the GET's headers.
        if (method === 'HEAD') {
          assert.ok(gets.has(url), `HEAD ${url} without its GET`);
          continue;
        }
        if (!url.startsWith('/api/') && (PROBES.has(url) || isStaticFile(method, url))) continue;
        assert.ok(documented.has(`${method} ${openApiPath(url)}`), `${method} ${url} is served but not documented`);
      }
    });

    it('every documented operation is served', () => {
      const served = new Set(restApiOf(server.parley.http).served.map((r) => `${r.method} ${openApiPath(r.url)}`));
      for (const { method, path: p } of operations()) {
        assert.ok(served.has(`${method} ${p}`), `${method} ${p} is documented but not served`);
        assert.ok(server.parley.http.hasRoute({ method, url: p.replace(/\{(\w+)\}/g, ':$1') }), `${method} ${p}: Fastify has no such route`);
      }
    });

    it('the document is built from the declarations, one operation each', () => {
      const routes = restApiOf(server.parley.http).routes;
      assert.equal(operations().length, routes.length);
      for (const route of routes) {
        const op = doc.paths[openApiPath(route.path)]?.[route.method.toLowerCase()];
        assert.ok(op !== undefined, route.operationId);
        assert.equal(op.operationId, route.operationId);
        // Every code the route can answer, each under its status, and no other error.
        const errorStatuses = Object.keys(op.responses).filter((s) => Number(s) >= 400);
        assert.deepEqual(errorStatuses.sort(), errorsOf(route).map((code) => String(ERRORS[code].status)).sort(), route.operationId);
        assert.equal(op.security.length > 0, route.auth, `${route.operationId}: security`);
      }
    });
  });

  describe('structure', () => {
    it('is OpenAPI 3.1 with the package version, a relative server and both security schemes', () => {
      assert.equal(doc.openapi, '3.1.0');
      const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
      assert.equal(doc.info.version, pkg.version);
      assert.equal(typeof doc.info.title, 'string');
      assert.ok(doc.servers.length > 0 && doc.servers.every((s) => s.url.startsWith('/')), 'servers are relative');
      assert.equal(doc.components.securitySchemes.bearerToken?.type, 'http');
      assert.equal(doc.components.securitySchemes.bearerToken?.scheme, 'bearer');
      assert.equal(doc.components.securitySchemes.sessionCookie?.in, 'cookie');
      assert.equal(doc.components.securitySchemes.sessionCookie?.name, 'parley_session');
    });

    it('points to docs/protocol.md for the WebSocket endpoint', () => {
      assert.match(doc.info.description, /GET \/ws/);
      assert.match(doc.info.description, /docs\/protocol\.md/);
    });

    it('every $ref resolves', () => {
      const refs: string[] = [];
      const walk = (value: unknown): void => {
        if (Array.isArray(value)) value.forEach(walk);
        else if (typeof value === 'object' && value !== null) {
          for (const [key, v] of Object.entries(value)) {
            if (key === '$ref') refs.push(v as string);
            else walk(v);
          }
        }
      };
      walk(doc);
      assert.ok(refs.length > 20);
      for (const ref of refs) {
        assert.ok(ref.startsWith('#/'), `${ref}: only local references`);
        let target: unknown = doc;
        for (const token of ref.slice(2).split('/')) {
          const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
          target = typeof target === 'object' && target !== null ? (target as Record<string, unknown>)[key] : undefined;
        }
        assert.ok(target !== undefined, `${ref} does not resolve`);
      }
    });

    it('every path parameter is declared, required, and every declared one is in the path', () => {
      for (const { path: p, method, op } of operations()) {
        const inPath = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
        const declared = (op.parameters ?? []).filter((x) => x.in === 'path');
        assert.deepEqual(declared.map((x) => x.name).sort(), [...inPath].sort(), `${method} ${p}`);
        assert.ok(declared.every((x) => x.required), `${method} ${p}: path parameters are required`);
        const names = (op.parameters ?? []).map((x) => `${x.in}:${x.name}`);
        assert.equal(new Set(names).size, names.length, `${method} ${p}: a parameter twice`);
        assert.ok(!p.includes(':'), `${p} is in Fastify's form`);
      }
    });

    it('operationIds are unique; operations name known tags and schemes and answer a success', () => {
      const ids = operations().map((o) => o.op.operationId);
      assert.equal(new Set(ids).size, ids.length);
      const tags = new Set(doc.tags.map((t) => t.name));
      for (const { path: p, method, op } of operations()) {
        assert.ok(METHODS.includes(method.toLowerCase()));
        assert.ok(op.tags.every((t) => tags.has(t)), `${method} ${p}: tags`);
        for (const requirement of op.security) for (const scheme of Object.keys(requirement)) assert.ok(scheme in doc.components.securitySchemes, scheme);
        const statuses = Object.keys(op.responses);
        assert.ok(statuses.every((s) => /^[1-5]\d\d$/.test(s)), `${method} ${p}: ${statuses}`);
        assert.ok(statuses.some((s) => s.startsWith('2')), `${method} ${p}: no success answer`);
        for (const answer of Object.values(op.responses)) if (!('$ref' in answer)) assert.equal(typeof answer.description, 'string');
      }
    });

    it('components are well named; schemas carry no $schema or $id of their own', () => {
      for (const kind of Object.values(doc.components)) for (const name of Object.keys(kind)) assert.match(name, /^[a-zA-Z0-9._-]+$/);
      for (const [name, schema] of Object.entries(doc.components.schemas)) {
        assert.equal(schema.$schema, undefined, name);
        assert.equal(schema.$id, undefined, name);
      }
    });

    it('every error code of the catalogue has its response, in the shared error shape with its code', () => {
      assert.deepEqual(Object.keys(doc.components.responses).sort(), Object.keys(ERRORS).sort());
      for (const [code, response] of Object.entries(doc.components.responses)) {
        const schema = response.content?.['application/json']?.schema;
        assert.deepEqual(schema?.allOf?.[0], { $ref: '#/components/schemas/Error' }, code);
        assert.deepEqual(schema?.allOf?.[1]?.properties?.error?.properties?.code, { const: code });
        assert.match(response.description, new RegExp(`\`${code}\``));
      }
      assert.ok(doc.components.responses.rate_limited?.headers?.['Retry-After']);
      assert.ok(doc.components.responses.unavailable?.headers?.['Retry-After']);
    });

    it('request bodies are closed; answers are open to fields added later', () => {
      const json = operations().flatMap(({ op }) => (op.requestBody?.content['application/json'] === undefined ? [] : [op.requestBody.content['application/json'].schema]));
      assert.ok(json.length > 5);
      for (const body of json) assert.equal(body?.additionalProperties, false);
      // The others are uploads: the file's bytes, and nothing else.
      const raw = operations().filter(({ op }) => op.requestBody !== undefined && op.requestBody.content['application/json'] === undefined);
      assert.deepEqual(raw.map(({ op }) => Object.keys(op.requestBody?.content ?? {})), [['application/octet-stream'], ['application/octet-stream'], ['application/octet-stream']]);
      for (const name of ['User', 'Room', 'Message', 'MessagePage']) assert.equal(doc.components.schemas[name]?.additionalProperties, undefined, name);
    });
  });

  describe('serving', () => {
    it('has a strong ETag and is revalidated: 304 with If-None-Match, without a body', async () => {
      assert.match(etag, /^"[\w-]+"$/);
      const again = await fetch(`${server.url}/api/v1/openapi.json`, { headers: { 'if-none-match': etag } });
      assert.equal(again.status, 304);
      assert.equal(await again.text(), '');
      assert.equal(again.headers.get('etag'), etag);
      const other = await fetch(`${server.url}/api/v1/openapi.json`, { headers: { 'if-none-match': '"something-else"' } });
      assert.equal(other.status, 200);
      assert.equal(other.headers.get('cache-control'), 'no-cache');
    });

    it('needs no authentication', async () => {
      const res = await fetch(`${server.url}/api/v1/openapi.json`, { headers: { authorization: 'Bearer not-a-token' } });
      assert.equal(res.status, 200);
    });
  });
});
