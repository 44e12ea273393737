/**
 * Password hashing with scrypt on the libuv thread pool (crypto.scrypt is asynchronous), so a
 * login never blocks the event loop. Stored format, self-describing so the cost can be raised
 * later without invalidating old hashes:
 *   scrypt$<log2 N>$<r>$<p>$<salt base64url>$<hash base64url>
 * r = 8, p = 1, 16-byte salt, 32-byte key. log2 N comes from SCRYPT_COST (default 17, the
 * OWASP recommendation: 128 MiB and about 0.3 s per hash on one core here).
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const KEY_LENGTH = 32;
const R = 8;
const P = 1;

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  // scrypt needs 128 * N * r bytes; Node's default maxmem (32 MiB) is below N = 2^17.
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string, logN: number): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, logN, R, P);
  return `scrypt$${logN}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, logN, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), Number(logN), Number(r), Number(p));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * A hash of a random password at the configured cost: verifying against it when a username does
 * not exist makes a failed login take as long as a wrong password, so timing does not reveal
 * which usernames exist.
 */
export function decoyHash(logN: number): Promise<string> {
  return hashPassword(randomBytes(18).toString('base64url'), logN);
}
