import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeMemberCursor, decodeUserCursor, encodeMemberCursor, encodeUserCursor } from '../../src/domain/cursors.js';
import { AppError } from '../../src/errors.js';

const name = fc.stringMatching(/^[a-z0-9 ._-]{1,40}$/).filter((s) => s.trim() !== '');

describe('page cursors', () => {
  it('property: member and user-search cursors decode to what was encoded, and are URL-safe', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), name, (joinedAt, userId) => {
        const cursor = encodeMemberCursor({ joinedAt, userId });
        assert.match(cursor, /^[A-Za-z0-9_-]+$/);
        assert.deepEqual(decodeMemberCursor(cursor), { joinedAt, userId });
      }),
    );
    fc.assert(
      fc.property(name, name, name, (username, folded, id) => {
        assert.deepEqual(decodeUserCursor(encodeUserCursor({ phase: 'username', username })), { phase: 'username', username });
        assert.deepEqual(decodeUserCursor(encodeUserCursor({ phase: 'displayName', folded, id })), { phase: 'displayName', folded, id });
      }),
    );
  });

  it('anything else is validation_failed naming the parameter, never a throw of another kind', () => {
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const junk = ['', 'zzz', '%%%', b64({}), b64([1]), b64([1.5, 'u']), b64(['u', 'a', 'b']), b64(['d', 'a']), b64(['x', 'a']), b64(['u', 'a\u0000b']), b64(['u', 'x'.repeat(300)])];
    for (const cursor of junk) {
      for (const decode of [decodeMemberCursor, decodeUserCursor]) {
        assert.throws(
          () => decode(cursor, 'after'),
          (error: unknown) => error instanceof AppError && error.code === 'validation_failed' && (error.details?.issues as Array<{ path: string }> | undefined)?.[0]?.path === 'after',
          cursor,
        );
      }
    }
    fc.assert(
      fc.property(fc.string(), (s) => {
        for (const decode of [decodeMemberCursor, decodeUserCursor]) {
          try {
            decode(s);
          } catch (error) {
            assert.ok(error instanceof AppError && error.code === 'validation_failed');
          }
        }
      }),
    );
  });
});
