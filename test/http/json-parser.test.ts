/** What counts as a JSON body (src/http/json-parser.ts); the parser itself is tested over HTTP in test/integration/edge.suite.ts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { charsetProblem, isJsonContentType } from '../../src/http/json-parser.js';

describe('JSON content types', () => {
  it('JSON with or without parameters, and structured +json types', () => {
    for (const type of ['application/json', 'Application/JSON', 'application/json; charset=utf-8', 'application/json;charset="UTF-8"', 'application/vnd.parley+json', ' application/json ']) {
      assert.equal(isJsonContentType(type), true, type);
    }
    for (const type of [undefined, '', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp', 'text/json', 'application/json-seq']) {
      assert.equal(isJsonContentType(type), false, String(type));
    }
  });

  it('a charset, when given, must be UTF-8', () => {
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/json; charset=UTF8', 'application/json; Charset="utf-8"']) assert.equal(charsetProblem(type), null, type);
    for (const type of ['application/json; charset=latin1', 'application/json; charset=utf-16', 'application/json; charset=""']) assert.match(charsetProblem(type) ?? '', /UTF-8/, type);
  });
});
