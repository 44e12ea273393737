/** The text rules of the wire and the folding of names (src/protocol/text.ts), with properties. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { foldName, isBlank, TEXT_PROBLEMS, type TextKind, textProblem } from '../../src/protocol/text.js';

const KINDS: TextKind[] = ['wire', 'body', 'topic', 'name'];
const code = (n: number) => String.fromCodePoint(n);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Every C0 control, DEL and every C1 control. */
const CONTROLS = [...range(0x01, 0x1f), 0x7f, ...range(0x80, 0x9f)];
const BIDI = [...range(0x202a, 0x202e), ...range(0x2066, 0x2069)];
/** Characters that show as nothing. */
const INVISIBLE = [0x20, 0x09, 0x0a, 0x0d, 0xa0, 0x3000, 0x200b, 0x200c, 0x200d, 0x2060, 0xfeff, 0x3164, 0x115f, 0x1160, 0xffa0, 0x2800, 0x00ad, 0x034f, 0x180e, 0xfe0f, 0x2028];

/** Any string without NUL or an unpaired surrogate. */
const wellFormed = fc.string({ unit: 'binary' }).filter((s) => !s.includes('\u0000'));
const loneSurrogate = fc.oneof(fc.integer({ min: 0xd800, max: 0xdbff }), fc.integer({ min: 0xdc00, max: 0xdfff })).map((n) => String.fromCharCode(n));
/** The usernames PROTOCOL.md allows, lower-cased (the server stores them so). */
const usernames = fc.stringMatching(/^[a-z0-9_.-]{3,32}$/);
const visibleLetter = fc.constantFrom('a', 'Z', 'é', 'ж', 'λ', '中', '😀', '7', '!');

describe('text rules', () => {
  it('any well-formed string without NUL passes the wire rule', () => {
    fc.assert(fc.property(wellFormed, (s) => textProblem(s, 'wire') === null));
  });

  it('U+0000 anywhere fails every kind', () => {
    fc.assert(
      fc.property(wellFormed, wellFormed, fc.constantFrom(...KINDS), (a, b, kind) => textProblem(`${a}\u0000${b}`, kind) === TEXT_PROBLEMS.nul),
    );
  });

  it('an unpaired surrogate anywhere fails every kind; a surrogate pair is a character', () => {
    fc.assert(
      fc.property(wellFormed, loneSurrogate, wellFormed, fc.constantFrom(...KINDS), (a, lone, b, kind) => {
        // Unless the neighbours happen to complete the pair, the surrogate is unpaired.
        const s = `${a}${lone}${b}`;
        const paired = !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
        return paired || textProblem(s, kind) === TEXT_PROBLEMS.surrogate;
      }),
    );
    assert.equal(textProblem('\uD83D\uDE00 ok', 'body'), null);
    assert.equal(textProblem('\uD83D', 'wire'), TEXT_PROBLEMS.surrogate);
    assert.equal(textProblem('x\uDE00', 'wire'), TEXT_PROBLEMS.surrogate);
  });

  it('bodies and topics allow tab, LF and CR, and refuse every other control character, DEL and C1', () => {
    assert.equal(textProblem('line one\r\nline two\tend', 'body'), null);
    assert.equal(textProblem('a\tb\nc', 'topic'), null);
    for (const c of CONTROLS.filter((n) => ![0x09, 0x0a, 0x0d].includes(n))) {
      assert.equal(textProblem(`a${code(c)}b`, 'body'), TEXT_PROBLEMS.controlInText, `U+${c.toString(16)}`);
      assert.equal(textProblem(`a${code(c)}b`, 'topic'), TEXT_PROBLEMS.controlInText, `U+${c.toString(16)}`);
    }
  });

  it('names refuse every control character and line break', () => {
    for (const c of [...CONTROLS, 0x2028, 0x2029]) assert.equal(textProblem(`a${code(c)}b`, 'name'), TEXT_PROBLEMS.controlInName, `U+${c.toString(16)}`);
    assert.equal(textProblem('Ada Lovelace', 'name'), null);
  });

  it('the bidirectional embedding, override and isolate controls are refused in bodies, topics and names; the marks are not', () => {
    for (const kind of ['body', 'topic', 'name'] as const) {
      for (const c of BIDI) assert.equal(textProblem(`abc${code(c)}def`, kind), TEXT_PROBLEMS.bidi, `${kind} U+${c.toString(16)}`);
      // LRM, RLM, ALM: right-to-left writing needs them.
      for (const c of [0x200e, 0x200f, 0x061c]) assert.equal(textProblem(`שלום${code(c)} abc`, kind), null, `${kind} U+${c.toString(16)}`);
    }
    assert.equal(textProblem('\u202E', 'wire'), null, 'identifiers and queries are only held to the wire rule');
  });

  it('anything made only of spaces and invisible characters is blank, in bodies and names; one visible character is not', () => {
    const invisible = fc.array(fc.constantFrom(...INVISIBLE.map(code)), { maxLength: 12 }).map((a) => a.join(''));
    fc.assert(
      fc.property(invisible, (s) => {
        assert.ok(isBlank(s));
        // Names refuse tab and line breaks before they are found blank.
        const forName = textProblem(s, 'name');
        return textProblem(s, 'body') === TEXT_PROBLEMS.blank && (forName === TEXT_PROBLEMS.blank || forName === TEXT_PROBLEMS.controlInName) && textProblem(s, 'topic') === null;
      }),
    );
    fc.assert(fc.property(invisible, visibleLetter, invisible, (a, letter, b) => !isBlank(`${a}${letter}${b}`) && textProblem(`${a}${letter}${b}`, 'body') === null));
  });
});

/** The rules written the slow, obvious way, to check the one-pass scan of textProblem against. */
function model(text: string, kind: TextKind): string | null {
  if (text.includes('\u0000')) return TEXT_PROBLEMS.nul;
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text)) return TEXT_PROBLEMS.surrogate;
  if (kind === 'wire') return null;
  if (kind === 'name' ? /[\p{Cc}\u2028\u2029]/u.test(text) : /[^\P{Cc}\t\n\r]/u.test(text)) return kind === 'name' ? TEXT_PROBLEMS.controlInName : TEXT_PROBLEMS.controlInText;
  if (/[\u202A-\u202E\u2066-\u2069]/.test(text)) return TEXT_PROBLEMS.bidi;
  if (kind !== 'topic' && /^[\p{White_Space}\p{Default_Ignorable_Code_Point}\u2800]*$/u.test(text)) return TEXT_PROBLEMS.blank;
  return null;
}

describe('textProblem against a model', () => {
  it('agrees with the rules written as regular expressions, on strings of the characters that matter', () => {
    const interesting = fc.constantFrom(
      ...[0x00, 0x09, 0x0a, 0x0d, 0x01, 0x1f, 0x20, 0x41, 0x7e, 0x7f, 0x80, 0x9f, 0xa0, 0x200b, 0x200e, 0x2028, 0x2029, 0x202a, 0x202e, 0x202f, 0x2060, 0x2065, 0x2066, 0x2069, 0x206a, 0x3164, 0x2800, 0xfeff].map(code),
      '\uD800',
      '\uDBFF',
      '\uDC00',
      '\uDFFF',
      '\uD83D\uDE00',
      'é',
    );
    const strings = fc.array(interesting, { maxLength: 10 }).map((a) => a.join(''));
    fc.assert(fc.property(strings, fc.constantFrom(...KINDS), (s, kind) => textProblem(s, kind) === model(s, kind)), { numRuns: 5000 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom(...KINDS), (s, kind) => textProblem(s, kind) === model(s, kind)), { numRuns: 2000 });
  });
});

describe('foldName', () => {
  it('folds look-alike names onto the username they imitate', () => {
    const cases: Array<[string, string]> = [
      ['Alice', 'alice'],
      ['ALICE', 'alice'],
      ['\u0430lice', 'alice'], // Cyrillic а
      ['\u0410LICE', 'alice'], // Cyrillic А
      ['b\u043Eb', 'bob'], // Cyrillic о
      ['\u0412\u041E\u0412', 'bob'], // Cyrillic ВОВ
      ['\u0391\u039D\u039D\u0391', 'anna'], // Greek ΑΝΝΑ
      ['p\u0430ul', 'paul'],
      ['ａｌｉｃｅ', 'alice'], // full-width
      ['\u{1D41A}\u{1D425}\u{1D422}\u{1D41C}\u{1D41E}', 'alice'], // mathematical bold
      ['ali\u200Bce', 'alice'], // zero-width space
      ['ali\u200Dce\uFEFF', 'alice'],
      ['ali\u200Ace', 'alice'], // hair space
      ['\u0130van', 'ivan'], // dotted capital I
      ['stra\u00DFe', 'strasse'],
      ['jean\u2010luc', 'jean-luc'],
    ];
    for (const [name, folded] of cases) assert.equal(foldName(name), folded, JSON.stringify(name));
  });

  it('keeps what tells names apart: ordinary spaces and other letters', () => {
    assert.notEqual(foldName('al ice'), 'alice');
    assert.notEqual(foldName('alicé'), 'alice');
    assert.notEqual(foldName('alice2'), 'alice');
  });

  it('every username folds to itself, in any case', () => {
    fc.assert(fc.property(usernames, (u) => foldName(u) === u && foldName(u.toUpperCase()) === u));
  });

  it('is idempotent, and invisible characters anywhere change nothing', () => {
    const invisible = fc.constantFrom('\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF', '\u00AD', '\u2800', '\u034F');
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => foldName(foldName(s)) === foldName(s)));
    fc.assert(
      fc.property(usernames, fc.nat(), invisible, (u, at, inv) => {
        const i = at % (u.length + 1);
        return foldName(`${u.slice(0, i)}${inv}${u.slice(i)}`) === u;
      }),
    );
  });
});
