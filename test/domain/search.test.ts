import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { highlight, queryTerms } from '../../src/domain/search.js';

describe('search terms and highlight', () => {
  it('splits a query into folded words, deduplicated, at most 8', () => {
    assert.deepEqual(queryTerms('Café  RÉSUMÉ, café!'), ['cafe', 'resume']);
    assert.deepEqual(queryTerms('" & :* \'--'), []);
    assert.equal(queryTerms('a b c d e f g h i j').length, 8);
  });

  it('marks words the terms prefix, and escapes everything else', () => {
    assert.equal(highlight('Deploy <b>tonight</b> & deploying', ['deploy']), '<mark>Deploy</mark> &#60;b&#62;tonight&#60;/b&#62; &#38; <mark>deploying</mark>');
  });

  it('matches without diacritics and case', () => {
    assert.equal(highlight('Le Café', ['cafe']), 'Le <mark>Café</mark>');
  });

  it('cuts a long body to a window around the first match', () => {
    const body = `${'x '.repeat(300)}needle ${'y '.repeat(300)}`;
    const out = highlight(body, ['needle']);
    assert.ok(out.startsWith('…') && out.endsWith('…'));
    assert.ok(out.includes('<mark>needle</mark>'));
    assert.ok(out.length < 260);
  });
});
