import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashPassword, verifyPassword } from '../../src/domain/password.js';

describe('password hashing', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const hash = await hashPassword('correct horse', 10);
    assert.match(hash, /^scrypt\$10\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    assert.equal(await verifyPassword('correct horse', hash), true);
    assert.equal(await verifyPassword('correct horsE', hash), false);
  });

  it('salts: the same password hashes differently', async () => {
    assert.notEqual(await hashPassword('same password', 10), await hashPassword('same password', 10));
  });

  it('refuses a malformed stored hash', async () => {
    assert.equal(await verifyPassword('x', 'plain'), false);
  });

  it('does not block the event loop while hashing at cost 2^15', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await hashPassword('a long enough password', 15);
    clearInterval(timer);
    assert.ok(ticks > 0, 'the event loop kept turning during the hash');
  });
});
