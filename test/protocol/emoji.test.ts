import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isReactionEmoji } from '../../src/protocol/emoji.js';

describe('reaction emoji', () => {
  it('takes one emoji grapheme: simple, skin-toned, flags, ZWJ sequences, keycaps, with VS16', () => {
    for (const s of ['👍', '👍🏽', '🇫🇷', '👨‍👩‍👧‍👦', '1️⃣', '❤️', '🏳️‍🌈']) assert.equal(isReactionEmoji(s), true, s);
  });

  it('takes a :shortcode: of 1–32 of a-z 0-9 _ + -', () => {
    for (const s of [':+1:', ':party_parrot:', ':a:', `:${'a'.repeat(32)}:`]) assert.equal(isReactionEmoji(s), true, s);
  });

  it('refuses the rest: empty, letters, digits alone, two emoji, a lone modifier or joiner, bad codes', () => {
    for (const s of ['', 'a', '1', '#', '👍👍', '👍a', '🏽', '\u200d', '::', ':A:', ':a b:', `:${'a'.repeat(33)}:`, '<b>', '👍'.repeat(20)]) assert.equal(isReactionEmoji(s), false, JSON.stringify(s));
  });
});
