/**
 * The ObjectStore contract: what every storage adapter must do, run against each of them. Every
 * test writes keys of its own (under a random prefix), so tests never see each other's objects.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AppError } from '../../src/errors.js';
import type { ObjectStore, StoredObject } from '../../src/ports.js';

export interface ObjectStoreFixture {
  store: ObjectStore;
  /** The adapter's part size, bytes; null when it stores any file in one piece (parts: 1). */
  partSize: number | null;
  cleanup(): Promise<void>;
}

const MIB = 1024 * 1024;

/**
 * V8's collector, made callable in this process (each test file runs in a process of its own).
 * Memory is sampled after a minor collection: streaming 100 MiB in 64 KiB chunks leaves tens of
 * MiB of dead chunks waiting for the collector (and V8 grows its young generation under that
 * churn), which says nothing about what a put holds; live memory does.
 */
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as (options?: { type: 'major' | 'minor' }) => void;
const prefix = () => `t-${randomBytes(6).toString('hex')}`;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function read(object: StoredObject): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** Refused as a programming error: a plain Error, never an AppError (which would mean an outage or an answer). */
const refusedAsBug = (error: unknown) => error instanceof Error && !(error instanceof AppError) && /invalid object key/.test(error.message);

export function objectStoreContract(name: string, setup: () => Promise<ObjectStoreFixture>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let fixture: ObjectStoreFixture;
    let store: ObjectStore;
    let staging: string;
    /** A staging file holding `bytes`, as an upload leaves one for `put`. */
    const file = (bytes: Buffer): { path: string; size: number } => {
      const at = path.join(staging, randomBytes(6).toString('hex'));
      writeFileSync(at, bytes);
      return { path: at, size: bytes.length };
    };

    before(async () => {
      fixture = await setup();
      store = fixture.store;
      staging = mkdtempSync(path.join(tmpdir(), 'parley-objects-staging-'));
    });
    after(async () => {
      await fixture.cleanup();
      rmSync(staging, { recursive: true, force: true });
    });

    it('answers a ping', async () => {
      await store.ping();
    });

    it('gets back what was put, whole, with its size and content type, and keeps the source file', async () => {
      const key = `${prefix()}/a/photo.png`;
      const bytes = randomBytes(4321);
      const source = file(bytes);
      assert.deepEqual(await store.put(key, source, { contentType: 'image/png' }), { parts: 1 });
      assert.ok(statSync(source.path).isFile(), 'put copies the source: the caller still owns it');
      assert.deepEqual(await store.stat(key), { size: 4321, contentType: 'image/png' });
      const object = await store.get(key);
      assert.ok(object !== undefined);
      assert.equal(object.size, 4321);
      assert.equal(object.range, null);
      assert.equal(object.contentType, 'image/png');
      assert.ok((await read(object)).equals(bytes));
    });

    it('gets byte ranges: the first byte, the middle, the last byte, a range reaching the end', async () => {
      const key = `${prefix()}/ranges.bin`;
      const bytes = randomBytes(1000);
      await store.put(key, file(bytes), { contentType: 'application/octet-stream' });
      for (const range of [
        { start: 0, end: 0 },
        { start: 100, end: 199 },
        { start: 999, end: 999 },
        { start: 900, end: 999 },
        { start: 0, end: 999 },
      ]) {
        const object = await store.get(key, range);
        assert.ok(object !== undefined);
        assert.equal(object.size, 1000, 'size is the whole object');
        assert.deepEqual(object.range, range);
        assert.equal(object.contentType, 'application/octet-stream');
        assert.ok((await read(object)).equals(bytes.subarray(range.start, range.end + 1)), `bytes ${range.start}-${range.end}`);
      }
    });

    it('replaces an object: bytes, size and content type together', async () => {
      const key = `${prefix()}/replaced.txt`;
      await store.put(key, file(Buffer.from('the first version, longer')), { contentType: 'text/plain' });
      const second = Buffer.from('{"v":2}');
      await store.put(key, file(second), { contentType: 'application/json' });
      assert.deepEqual(await store.stat(key), { size: second.length, contentType: 'application/json' });
      const object = await store.get(key);
      assert.ok(object !== undefined);
      assert.equal(object.contentType, 'application/json');
      assert.ok((await read(object)).equals(second));
    });

    it('answers undefined for a key with no object', async () => {
      const key = `${prefix()}/missing.bin`;
      assert.equal(await store.get(key), undefined);
      assert.equal(await store.get(key, { start: 0, end: 0 }), undefined);
      assert.equal(await store.stat(key), undefined);
    });

    it('deletes objects, and a key with no object (or none at all) is no error', async () => {
      const p = prefix();
      await store.put(`${p}/one`, file(Buffer.from('1')), { contentType: 'text/plain' });
      await store.put(`${p}/two`, file(Buffer.from('2')), { contentType: 'text/plain' });
      await store.delete([`${p}/one`, `${p}/never-was`]);
      assert.equal(await store.stat(`${p}/one`), undefined);
      assert.equal(await store.get(`${p}/one`), undefined);
      assert.deepEqual(await store.stat(`${p}/two`), { size: 1, contentType: 'text/plain' }, 'only the keys named');
      await store.delete([`${p}/one`]);
      await store.delete([]);
    });

    it('refuses keys that are not relative paths of [A-Za-z0-9._-] segments, as a bug', async () => {
      const source = file(Buffer.from('x'));
      for (const key of ['../escape', 'a/../../escape', '/absolute', 'a//b', 'a/', '', '.', 'a/./b', '..', 'a\\b', '..\\escape', 'spa ce', 'é', 'a/b?c', 'nul\0']) {
        await assert.rejects(store.put(key, source, { contentType: 'text/plain' }), refusedAsBug, `put ${JSON.stringify(key)}`);
        await assert.rejects(store.get(key), refusedAsBug, `get ${JSON.stringify(key)}`);
        await assert.rejects(store.stat(key), refusedAsBug, `stat ${JSON.stringify(key)}`);
        await assert.rejects(store.delete([`${prefix()}/fine`, key]), refusedAsBug, `delete ${JSON.stringify(key)}`);
      }
      // Dots are fine inside a segment.
      const odd = `${prefix()}/.hidden/x..y/v1.2_final-3`;
      await store.put(odd, source, { contentType: 'text/plain' });
      assert.deepEqual(await store.stat(odd), { size: 1, contentType: 'text/plain' });
    });

    it('puts an empty file', async () => {
      const key = `${prefix()}/empty`;
      assert.deepEqual(await store.put(key, file(Buffer.alloc(0)), { contentType: 'text/plain' }), { parts: 1 });
      assert.deepEqual(await store.stat(key), { size: 0, contentType: 'text/plain' });
      const object = await store.get(key);
      assert.ok(object !== undefined);
      assert.equal(object.size, 0);
      assert.equal((await read(object)).length, 0);
    });

    it('puts a file larger than the part size in several parts, read back byte-identical', async () => {
      const partSize = fixture.partSize ?? 5 * MIB;
      const bytes = randomBytes(2 * partSize + MIB + 123);
      const key = `${prefix()}/large.bin`;
      const { parts } = await store.put(key, file(bytes), { contentType: 'application/zip' });
      assert.equal(parts, fixture.partSize === null ? 1 : 3);
      assert.deepEqual(await store.stat(key), { size: bytes.length, contentType: 'application/zip' });
      const object = await store.get(key);
      assert.ok(object !== undefined);
      assert.equal(sha256(await read(object)), sha256(bytes));
      // A range across the boundary between the first two parts.
      const range = { start: partSize - 10, end: partSize + 9 };
      const across = await store.get(key, range);
      assert.ok(across !== undefined);
      assert.ok((await read(across)).equals(bytes.subarray(range.start, range.end + 1)));
    });

    it('puts different keys at the same time', async () => {
      const p = prefix();
      const contents = Array.from({ length: 16 }, (_, i) => randomBytes(1000 + i * 517));
      const results = await Promise.all(contents.map((bytes, i) => store.put(`${p}/${i}.bin`, file(bytes), { contentType: 'application/octet-stream' })));
      assert.ok(results.every((r) => r.parts === 1));
      for (const [i, bytes] of contents.entries()) {
        const object = await store.get(`${p}/${i}.bin`);
        assert.ok(object !== undefined);
        assert.ok((await read(object)).equals(bytes), `object ${i}`);
      }
    });

    it('puts a 100 MB file without holding it in memory', async () => {
      const size = 100 * MIB;
      const at = path.join(staging, 'hundred.bin');
      // Written a mebibyte at a time, so the test itself never holds the file either.
      const handle = await open(at, 'w');
      const chunk = randomBytes(MIB);
      for (let i = 0; i < 100; i++) await handle.write(chunk, 0, MIB, i * MIB);
      await handle.close();
      collect();
      const baseline = process.memoryUsage().rss;
      let peak = baseline;
      const sampler = setInterval(() => {
        collect({ type: 'minor' });
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 10);
      const key = `${prefix()}/hundred.bin`;
      try {
        const { parts } = await store.put(key, { path: at, size }, { contentType: 'application/octet-stream' });
        if (fixture.partSize !== null) assert.equal(parts, Math.ceil(size / fixture.partSize));
      } finally {
        clearInterval(sampler);
      }
      assert.ok(peak - baseline < 20 * MIB, `RSS grew by ${((peak - baseline) / MIB).toFixed(1)} MiB while putting 100 MiB`);
      assert.deepEqual(await store.stat(key), { size, contentType: 'application/octet-stream' });
      const tail = await store.get(key, { start: size - MIB, end: size - 1 });
      assert.ok(tail !== undefined);
      assert.ok((await read(tail)).equals(chunk));
      await store.delete([key]);
      rmSync(at);
    });
  });
}
