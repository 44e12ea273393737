/** Strict query strings (src/http/query.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { malformedQuery, parseQuery } from '../../src/http/query.js';

describe('parseQuery', () => {
  it('decodes names and values, + as a space', () => {
    assert.deepEqual({ ...parseQuery('q=hello+world&limit=10&roomId=r%2F1&empty=&flag') }, { q: 'hello world', limit: '10', roomId: 'r/1', empty: '', flag: '' });
    assert.equal(malformedQuery(parseQuery('q=%E2%82%AC')), null);
    assert.equal(parseQuery('q=%E2%82%AC').q, '€');
  });

  it('keeps every value of a repeated name, for the schemas to refuse', () => {
    assert.deepEqual(parseQuery('limit=1&limit=2&limit=3').limit, ['1', '2', '3']);
  });

  it('marks parameters whose escapes are malformed or not UTF-8 (an encoded surrogate), instead of keeping them raw', () => {
    for (const [text, names] of [
      ['q=%E0%A4%A', ['q']],
      ['q=%ED%A0%80', ['q']],
      ['a=1&q=%FF&b=%zz', ['q', 'b']],
      ['%E0=1', ['(unnamed)']],
    ] as const) {
      const query = parseQuery(text);
      assert.deepEqual(malformedQuery(query), names, text);
      for (const name of names) assert.equal(Object.hasOwn(query, name), false, `${text}: ${name} is not kept`);
    }
  });

  it('never throws, and an object without a prototype holds __proto__ as a plain name', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => typeof parseQuery(s) === 'object'));
    const query = parseQuery('__proto__=x&constructor=y');
    assert.equal(Object.getPrototypeOf(query), null);
    assert.equal(Object.getOwnPropertyDescriptor(query, '__proto__')?.value, 'x');
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });
});
