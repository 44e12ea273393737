/** Which cookie-authenticated requests may change state (src/http/csrf.ts); over HTTP in test/integration/edge.suite.ts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkCookieRequest } from '../../src/http/csrf.js';
import { AppError } from '../../src/errors.js';

const HOST = 'chat.example.com';
const request = (method: string, headers: Record<string, string>) => ({ method, headers: { host: HOST, ...headers } });
const refusal = (fn: () => void): string | null => {
  try {
    fn();
    return null;
  } catch (error) {
    assert.ok(error instanceof AppError);
    return error.code;
  }
};

describe('cookie requests that change state', () => {
  const json = { 'content-type': 'application/json' };
  it('need an Origin, and an allowed one', () => {
    assert.equal(refusal(() => checkCookieRequest(request('POST', json), [])), 'forbidden');
    for (const origin of ['https://evil.example', 'https://chat.example.com:8443', 'https://www.chat.example.com', 'null']) {
      assert.equal(refusal(() => checkCookieRequest(request('POST', { ...json, origin }), [])), 'forbidden', origin);
    }
    assert.equal(refusal(() => checkCookieRequest(request('POST', { ...json, origin: `https://${HOST}` }), [])), null);
    assert.equal(refusal(() => checkCookieRequest(request('DELETE', { origin: 'https://app.example' }), ['https://app.example'])), null);
    assert.equal(refusal(() => checkCookieRequest(request('PATCH', { ...json, origin: `https://${HOST}` }), ['https://app.example'])), 'forbidden');
  });

  it('a POST must say it is JSON, also without a body', () => {
    const origin = `https://${HOST}`;
    for (const type of [undefined, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']) {
      const headers: Record<string, string> = type === undefined ? { origin } : { origin, 'content-type': type };
      assert.equal(refusal(() => checkCookieRequest(request('POST', headers), ['*'])), 'validation_failed', String(type));
    }
    assert.equal(refusal(() => checkCookieRequest(request('POST', { origin, 'content-type': 'application/json; charset=utf-8' }), [])), null);
  });

  it('reads are not concerned', () => {
    assert.equal(refusal(() => checkCookieRequest(request('GET', { origin: 'https://evil.example' }), [])), null);
    assert.equal(refusal(() => checkCookieRequest(request('HEAD', {}), [])), null);
  });
});
