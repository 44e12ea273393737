/**
 * What a reaction may be: one emoji, or a short code. Pure, shared by the server's schemas and
 * the client SDK (no dependency), so both refuse the same input.
 *
 * - An emoji is exactly one grapheme cluster (what a reader sees as one character: a flag, a
 *   family joined by ZWJ, a skin-toned hand, a keycap) made only of emoji code points and the
 *   joiners and modifiers that compose them, starting with a pictograph, a regional-indicator
 *   pair or a keycap base. At most 32 UTF-16 units (the longest standard sequences are ~14).
 * - A short code is `:name:` with a name of 1–32 of a-z 0-9 _ + - (`:+1:`, `:party_parrot:`):
 *   clients may map it to an emoji or a custom image; the server stores it as given.
 */

export const EMOJI_MAX_UNITS = 32;
const SHORTCODE = /^:[a-z0-9_+-]{1,32}:$/;
const START = /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}{2}|[0-9#*]\uFE0F?\u20E3)/u;
const PARTS = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\u200D|\uFE0F|\u20E3)+$/u;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function oneGrapheme(s: string): boolean {
  const it = graphemes.segment(s)[Symbol.iterator]();
  const first = it.next();
  return !first.done && first.value.segment === s;
}

/** Whether `s` is a reaction Parley accepts (see above). */
export function isReactionEmoji(s: string): boolean {
  if (s.length === 0 || s.length > EMOJI_MAX_UNITS + 2) return false;
  if (SHORTCODE.test(s)) return true;
  return s.length <= EMOJI_MAX_UNITS && START.test(s) && PARTS.test(s) && oneGrapheme(s);
}
