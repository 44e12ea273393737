/**
 * Text rules of the wire: which strings the server accepts, checked at the edge (the schemas of
 * schemas.ts apply them to every REST body, query string, path parameter and WebSocket frame),
 * and the folding that tells when a display name impersonates a username. Pure functions, no I/O.
 *
 * Why each rule exists:
 * - U+0000 cannot be stored in PostgreSQL text (the transaction fails), and an unpaired
 *   surrogate is not Unicode: it cannot be encoded as UTF-8, so PostgreSQL refuses it and
 *   SQLite stores U+FFFD in its place (text the client never sent). Refused in every string.
 * - Control characters have no business in chat text beyond tab and line breaks; in names they
 *   break every layout that shows them (a newline in a display name forges a second line).
 * - The bidirectional embedding, override and isolate controls (U+202A–U+202E, U+2066–U+2069)
 *   make text display in another order than it is stored ("Trojan Source"): a name or message
 *   could show one thing and mean another. The marks U+200E, U+200F and U+061C stay allowed:
 *   right-to-left writers need them and they reorder nothing by themselves.
 * - A body or name made only of spaces and invisible characters (zero-width spaces, Hangul
 *   fillers, the blank braille pattern…) shows as nothing: it is blank, as "" is.
 */

/** What a string is for, and so which rules it must pass. */
export type TextKind =
  /** Any string: identifiers, usernames, passwords, search queries, `clientMsgId`. */
  | 'wire'
  /** A message body: tab, LF and CR allowed; not blank. */
  | 'body'
  /** A room topic: as a body, but it may be empty or blank. */
  | 'topic'
  /** A display name or room name: one line, no control character at all; not blank. */
  | 'name';

/**
 * Characters that show as nothing: Unicode white space, default-ignorable code points (zero-width
 * spaces and joiners, word joiner, BOM, soft hyphen, variation selectors, the Hangul fillers
 * U+115F, U+1160, U+3164, U+FFA0, tags…), and the blank braille pattern U+2800.
 */
const ONLY_INVISIBLE = /^[\p{White_Space}\p{Default_Ignorable_Code_Point}\u2800]*$/u;

export const TEXT_PROBLEMS = {
  nul: 'must not contain U+0000 (NUL)',
  surrogate: 'must be valid Unicode text (it contains an unpaired surrogate)',
  controlInText: 'must not contain control characters other than tab and line breaks',
  controlInName: 'must not contain control characters or line breaks',
  bidi: 'must not contain bidirectional embedding, override or isolate controls (U+202A–U+202E, U+2066–U+2069)',
  blank: 'must not be blank (only spaces or invisible characters)',
} as const;

/**
 * The first rule `text` breaks for its kind, as a sentence fragment naming the rule (never
 * quoting the text), or null when it passes. Lengths are checked by the schemas, not here.
 *
 * One pass over the UTF-16 code units, as every message body goes through it on the send path;
 * when several rules are broken, the first in TEXT_PROBLEMS' order is reported.
 */
export function textProblem(text: string, kind: TextKind): string | null {
  const strict = kind !== 'wire';
  const name = kind === 'name';
  let nul = false;
  let surrogate = false;
  let control = false;
  let bidi = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      // C0 controls, DEL, C1 controls; tab, LF and CR are text except in names.
      if (c === 0) nul = true;
      else if (strict && (name || (c !== 0x09 && c !== 0x0a && c !== 0x0d))) control = true;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A high surrogate followed by a low one is one character; anything else is unpaired.
      const next = text.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
      else surrogate = true;
    } else if (strict && c >= 0x2028 && c <= 0x2069) {
      // Embeddings and overrides (LRE, RLE, PDF, LRO, RLO) and isolates (LRI, RLI, FSI, PDI);
      // in names also the line and paragraph separators.
      if ((c >= 0x202a && c <= 0x202e) || c >= 0x2066) bidi = true;
      else if (name && c <= 0x2029) control = true;
    }
  }
  if (nul) return TEXT_PROBLEMS.nul;
  if (surrogate) return TEXT_PROBLEMS.surrogate;
  if (control) return name ? TEXT_PROBLEMS.controlInName : TEXT_PROBLEMS.controlInText;
  if (bidi) return TEXT_PROBLEMS.bidi;
  if (strict && kind !== 'topic' && isBlank(text)) return TEXT_PROBLEMS.blank;
  return null;
}

/** True when `text` shows as nothing: empty, or only white space and invisible characters. */
export function isBlank(text: string): boolean {
  return ONLY_INVISIBLE.test(text);
}

/**
 * Removed before names are compared: what shows as nothing (default-ignorable code points, the
 * blank braille pattern) and the spaces too thin to see between two letters (thin, hair, narrow
 * no-break, six-per-em, medium mathematical). Ordinary spaces stay: "al ice" does not read as
 * "alice".
 */
const UNSEEN_IN_NAME = /[\p{Default_Ignorable_Code_Point}\u2800\u2006\u2009\u200A\u202F\u205F]/gu;

/**
 * Letters of other scripts that look like Latin ones, mapped to the lower-case Latin letter they
 * are mistaken for. Capitals map to the letter their capital resembles (Cyrillic "В" looks like
 * "B", so "b"), since names are compared case-insensitively. Not the whole Unicode confusables
 * table: the letters of the Cyrillic and Greek alphabets that pass for Latin in common fonts,
 * which is what impersonation uses in practice.
 */
const LOOK_ALIKES: ReadonlyMap<string, string> = new Map(
  Object.entries({
    // Cyrillic, small
    а: 'a', в: 'b', е: 'e', ё: 'e', һ: 'h', і: 'i', ї: 'i', ј: 'j', к: 'k', ӏ: 'l', м: 'm', н: 'h', о: 'o', р: 'p', ԛ: 'q', г: 'r', с: 'c', ѕ: 's', т: 't', ѵ: 'v', ԝ: 'w', х: 'x', у: 'y', ү: 'y', ԁ: 'd',
    // Cyrillic, capital
    А: 'a', В: 'b', Е: 'e', Ё: 'e', Һ: 'h', І: 'i', Ї: 'i', Ј: 'j', К: 'k', Ӏ: 'l', М: 'm', Н: 'h', О: 'o', Р: 'p', Ԛ: 'q', Ѕ: 's', Т: 't', Ѵ: 'v', Ԝ: 'w', Х: 'x', У: 'y', Ү: 'y', С: 'c',
    // Greek, small
    α: 'a', β: 'b', ε: 'e', η: 'n', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', γ: 'y', ϲ: 'c', ϳ: 'j', ω: 'w',
    // Greek, capital
    Α: 'a', Β: 'b', Ε: 'e', Ζ: 'z', Η: 'h', Ι: 'i', Κ: 'k', Μ: 'm', Ν: 'n', Ο: 'o', Ρ: 'p', Τ: 't', Υ: 'y', Χ: 'x', Ϲ: 'c', Ϳ: 'j',
    // Latin letters that lower-case or fold to something else
    ı: 'i', ɡ: 'g', ß: 'ss', ẞ: 'ss',
    // Dashes that pass for the hyphen-minus allowed in usernames
    '\u2010': '-', '\u2011': '-', '\u2012': '-', '\u2013': '-', '\u2014': '-', '\u2015': '-', '\u2212': '-',
  }),
);

/**
 * The form of a name that decides whether it impersonates another: compatibility-normalised
 * (NFKC: full-width and mathematical letters become plain ones), look-alike letters of Cyrillic
 * and Greek mapped to Latin, lower-cased, and invisible characters removed. A
 * display name whose folded form equals another user's username impersonates that user.
 *
 * Stored beside each display name (users.display_name_folded), so a change here that folds any
 * name differently needs a migration that folds the stored names again.
 */
export function foldName(name: string): string {
  // Thin spaces go first: NFKC would turn them into ordinary ones. Look-alikes are mapped before
  // lower-casing (a capital maps to what it resembles) and after it (lower-casing makes new
  // ones: Γ becomes γ), and NFKC runs again after lower-casing (İ becomes i + U+0307, a dot
  // nobody sees on an i), so that folding a folded name changes nothing.
  const once = lookAlikes(name.replace(UNSEEN_IN_NAME, '').normalize('NFKC')).toLowerCase().normalize('NFKC');
  return lookAlikes(once).replace(UNSEEN_IN_NAME, '').replace(/\u0307/g, '');
}

function lookAlikes(text: string): string {
  let mapped = '';
  for (const ch of text) mapped += LOOK_ALIKES.get(ch) ?? ch;
  return mapped;
}
