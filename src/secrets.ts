/**
 * The server key: signs what must be verified later without a lookup (download links) and
 * encrypts what must be used later but never stored in clear (webhook signing secrets). From
 * SECRET_KEY, or generated once into DATA_DIR/secret.key (readable by its owner only).
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from './config.js';

const KEY_FILE = 'secret.key';

export class ServerKey {
  readonly #signing: Buffer;
  readonly #encryption: Buffer;

  constructor(key: Buffer) {
    if (key.length < 32) throw new ConfigError('SECRET_KEY must hold at least 32 bytes (64 hex digits or 44 base64 characters).');
    // Two keys derived from one, so signing and encryption never share a key.
    this.#signing = createHmac('sha256', key).update('parley signing').digest();
    this.#encryption = createHmac('sha256', key).update('parley encryption').digest();
  }

  /** A MAC of `message`, base64url. */
  sign(message: string): string {
    return createHmac('sha256', this.#signing).update(message).digest('base64url');
  }

  verify(message: string, signature: string): boolean {
    const expected = Buffer.from(this.sign(message));
    const given = Buffer.from(signature);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** AES-256-GCM: iv, tag and ciphertext, base64url, joined by dots. */
  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#encryption, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [iv, cipher.getAuthTag(), data].map((b) => b.toString('base64url')).join('.');
  }

  decrypt(sealed: string): string {
    const [iv, tag, data] = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
    if (iv === undefined || tag === undefined || data === undefined) throw new Error('not a sealed value');
    const decipher = createDecipheriv('aes-256-gcm', this.#encryption, iv);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
  }
}

function parseKey(raw: string): Buffer {
  const text = raw.trim();
  if (/^[0-9a-f]+$/i.test(text) && text.length % 2 === 0) return Buffer.from(text, 'hex');
  return Buffer.from(text, 'base64');
}

/** The key of SECRET_KEY, or the one in DATA_DIR (created on first use). */
export function loadServerKey(secretKey: string, dataDir: string): ServerKey {
  if (secretKey !== '') return new ServerKey(parseKey(secretKey));
  const file = path.join(dataDir, KEY_FILE);
  try {
    return new ServerKey(parseKey(readFileSync(file, 'utf8')));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dataDir, { recursive: true });
  // Written whole under another name, then linked in place: a process starting at the same
  // moment either links first (and this one reads its key) or reads this one, never half a file.
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  try {
    linkSync(draft, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(draft);
  }
  return new ServerKey(parseKey(readFileSync(file, 'utf8')));
}
