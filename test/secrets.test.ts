/** The server key: signatures that only it verifies, sealed values only it opens, and one key file however many processes start at once. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../src/config.js';
import { loadServerKey, ServerKey } from '../src/secrets.js';

describe('server key', () => {
  it('signs and verifies; another key or another message does not verify', () => {
    const key = new ServerKey(Buffer.alloc(32, 1));
    const other = new ServerKey(Buffer.alloc(32, 2));
    const sig = key.sign('export-download:abc:123');
    assert.ok(key.verify('export-download:abc:123', sig));
    assert.ok(!key.verify('export-download:abc:124', sig));
    assert.ok(!other.verify('export-download:abc:123', sig));
    assert.ok(!key.verify('export-download:abc:123', `${sig}x`));
  });

  it('seals values it alone opens; a tampered seal is refused', () => {
    const key = new ServerKey(Buffer.alloc(32, 1));
    const sealed = key.encrypt('whsec_secret');
    assert.ok(!sealed.includes('whsec_secret'));
    assert.notEqual(key.encrypt('whsec_secret'), sealed, 'a fresh nonce each time');
    assert.equal(key.decrypt(sealed), 'whsec_secret');
    assert.throws(() => new ServerKey(Buffer.alloc(32, 2)).decrypt(sealed));
    const [iv, tag, data] = sealed.split('.');
    assert.throws(() => key.decrypt([iv, tag, `${data?.slice(0, -2)}AA`].join('.')));
  });

  it('refuses a key shorter than 32 bytes; reads hex and base64', () => {
    assert.throws(() => loadServerKey('abcd', tmpdir()), ConfigError);
    const hex = 'ab'.repeat(32);
    assert.ok(loadServerKey(hex, tmpdir()).verify('m', loadServerKey(hex, tmpdir()).sign('m')));
    const b64 = Buffer.alloc(32, 9).toString('base64');
    assert.ok(loadServerKey(b64, tmpdir()).verify('m', new ServerKey(Buffer.alloc(32, 9)).sign('m')));
  });

  it('generates one key file, owner-only, when processes start together', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-key-'));
    try {
      const script = `import { loadServerKey } from './src/secrets.ts'; process.stdout.write(loadServerKey('', ${JSON.stringify(dir)}).sign('probe'));`;
      const sigs = await Promise.all(
        Array.from(
          { length: 4 },
          () =>
            new Promise<string>((resolve, reject) => {
              const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
              let out = '';
              child.stdout.on('data', (d: Buffer) => {
                out += d.toString();
              });
              child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
            }),
        ),
      );
      assert.equal(new Set(sigs).size, 1, 'every process uses the same key');
      assert.deepEqual(readdirSync(dir), ['secret.key'], 'no draft left behind');
      assert.equal(statSync(path.join(dir, 'secret.key')).mode & 0o777, 0o600);
      assert.equal(readFileSync(path.join(dir, 'secret.key'), 'utf8').trim().length, 64);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
