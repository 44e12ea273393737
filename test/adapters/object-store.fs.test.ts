import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsObjectStore } from '../../src/adapters/fs/object-store.js';
import { filesDir, openObjectStore } from '../../src/adapters/open-object-store.js';
import { testConfig } from '../../src/config.js';
import { objectStoreContract } from '../contracts/object-store.contract.js';

objectStoreContract('filesystem', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-objects-'));
  return {
    store: new FsObjectStore({ root: path.join(dir, 'files') }),
    partSize: null,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

/** Every file under `dir`, relative to it. */
const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();

describe('FsObjectStore', () => {
  let dir: string;
  let root: string;
  let store: FsObjectStore;
  let source: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'parley-objects-fs-'));
    root = path.join(dir, 'files');
    store = new FsObjectStore({ root });
    source = path.join(dir, 'source');
    writeFileSync(source, 'hello');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps each object in one file under its key, and nothing else once a put is done', async () => {
    await store.put('files/ab/cd.txt', { path: source, size: 5 }, { contentType: 'text/plain' });
    await store.put('avatars/u1', { path: source, size: 5 }, { contentType: 'image/webp' });
    assert.deepEqual(walk(root), ['avatars/u1', 'files/ab/cd.txt']);
    // The content type in front of the bytes, in the same file (replaced by one rename).
    const stored = readFileSync(path.join(root, 'files/ab/cd.txt'));
    assert.ok(stored.subarray(0, 8).equals(Buffer.from('PRLYOBJ1')));
    assert.ok(stored.subarray(-5).equals(Buffer.from('hello')));
  });

  it('never writes outside its root, whatever the key', async () => {
    await assert.rejects(store.put('../outside', { path: source, size: 5 }, { contentType: 'text/plain' }), /invalid object key/);
    await assert.rejects(store.put('a/../../outside', { path: source, size: 5 }, { contentType: 'text/plain' }), /invalid object key/);
    assert.deepEqual(readdirSync(dir).sort(), ['files', 'source']);
  });

  it('leaves the old object whole and no partial file when a put fails', async () => {
    await store.put('kept.txt', { path: source, size: 5 }, { contentType: 'text/plain' });
    // The source is shorter than announced (a truncated staging file): refused, nothing replaced.
    await assert.rejects(store.put('kept.txt', { path: source, size: 50 }, { contentType: 'text/html' }), /has 5 bytes, not the 50 announced/);
    await assert.rejects(store.put('kept.txt', { path: path.join(dir, 'no-such-source'), size: 5 }, { contentType: 'text/html' }), { code: 'ENOENT' });
    assert.deepEqual(await store.stat('kept.txt'), { size: 5, contentType: 'text/plain' });
    assert.deepEqual(
      readdirSync(root).filter((name) => name.endsWith('.partial')),
      [],
    );
  });

  it('a read begun before a replace reads the old object whole', async () => {
    const old = Buffer.alloc(2 * 1024 * 1024, 'a');
    writeFileSync(path.join(dir, 'old'), old);
    writeFileSync(path.join(dir, 'new'), Buffer.alloc(1024, 'b'));
    await store.put('swap.bin', { path: path.join(dir, 'old'), size: old.length }, { contentType: 'text/plain' });
    const reading = await store.get('swap.bin');
    assert.ok(reading !== undefined);
    await store.put('swap.bin', { path: path.join(dir, 'new'), size: 1024 }, { contentType: 'text/csv' });
    const chunks: Buffer[] = [];
    for await (const chunk of reading.body) chunks.push(Buffer.from(chunk));
    assert.ok(Buffer.concat(chunks).equals(old));
    assert.deepEqual(await store.stat('swap.bin'), { size: 1024, contentType: 'text/csv' });
  });

  it('has no presigned URLs: uploads and downloads go through the server', async () => {
    assert.equal(await store.presignPut('a/b', { size: 5, contentType: 'text/plain', expiresInS: 60 }), null);
    assert.equal(await store.presignGet('a/b', { expiresInS: 60, contentType: 'text/plain', contentDisposition: 'attachment' }), null);
    await assert.rejects(store.presignGet('../a', { expiresInS: 60, contentType: 'text/plain', contentDisposition: 'attachment' }), /invalid object key/);
  });

  it('ping makes the root directory and fails when it cannot be one', async () => {
    const fresh = new FsObjectStore({ root: path.join(dir, 'made', 'by', 'ping') });
    await fresh.ping();
    assert.deepEqual(readdirSync(path.join(dir, 'made', 'by')), ['ping']);
    await assert.rejects(new FsObjectStore({ root: path.join(source, 'under-a-file') }).ping());
  });

  it('is what openObjectStore builds for FILE_STORAGE=fs, under DATA_DIR/files unless FILES_DIR says', () => {
    const config = testConfig({ FILE_STORAGE: 'fs', DATA_DIR: dir, FILES_DIR: '' });
    assert.equal(filesDir(config), path.join(dir, 'files'));
    const opened = openObjectStore(config);
    assert.ok(opened instanceof FsObjectStore);
    assert.equal(opened.root, path.join(dir, 'files'));
    assert.equal(filesDir({ ...config, FILES_DIR: path.join(dir, 'elsewhere') }), path.join(dir, 'elsewhere'));
  });
});
