import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_MENTIONS, parseMentions } from '../../src/protocol/mentions.js';

describe('parseMentions', () => {
  it('finds @username and @room, lower-cased, once each', () => {
    assert.deepEqual(parseMentions('hi @Alice and @bob, @alice again. @room!'), { usernames: ['alice', 'bob'], room: true });
  });

  it('ignores mentions in code spans and blocks, as the renderer does', () => {
    assert.deepEqual(parseMentions('`@alice` and\n```\n@bob @room\n```\nbut @carol'), { usernames: ['carol'], room: false });
  });

  it('ignores e-mail addresses and escaped at signs', () => {
    assert.deepEqual(parseMentions('mail a@bob.com or \\@dave'), { usernames: [], room: false });
  });

  it('keeps a sentence full stop out of the name', () => {
    assert.deepEqual(parseMentions('thanks @erin.'), { usernames: ['erin'], room: false });
  });

  it('caps the names it takes from one body', () => {
    const body = Array.from({ length: MAX_MENTIONS + 10 }, (_, i) => `@user${i}`).join(' ');
    assert.equal(parseMentions(body).usernames.length, MAX_MENTIONS);
  });
});
