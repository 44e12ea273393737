/**
 * The S3 adapter against a real S3-compatible server: s3rver, in a child process of the test's
 * own on a free loopback port (an npm package, so it is always there). Besides the contract:
 * presigned URLs, and outages (the server killed, or frozen) through the adapter and its breaker.
 *
 * What s3rver does not check, so neither can these tests: it verifies no SigV4 signature (only
 * the expiry of a presigned URL), so a PUT to a presigned URL with another length or type than
 * signed is accepted by it, where S3 refuses it; the tests assert that both are among the signed
 * headers instead.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openObjectStore } from '../../src/adapters/open-object-store.js';
import { S3ObjectStore } from '../../src/adapters/s3/object-store.js';
import { testConfig } from '../../src/config.js';
import { AppError } from '../../src/errors.js';
import type { ObjectStore, StoredObject } from '../../src/ports.js';
import { Breakers } from '../../src/resilience/breaker.js';
import { guardObjectStore } from '../../src/resilience/guarded-ports.js';
import { objectStoreContract } from '../contracts/object-store.contract.js';
import { type S3rverHandle, startS3rver } from '../support/s3rver.js';

const MIB = 1024 * 1024;
const TIMEOUT_MS = 500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const isUnavailable = (error: unknown) => error instanceof AppError && error.code === 'unavailable';

function s3Store(server: S3rverHandle, timeoutMs: number): S3ObjectStore {
  return new S3ObjectStore({
    bucket: server.bucket,
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: server.credentials,
    forcePathStyle: true,
    partSize: 5 * MIB,
    timeoutMs,
  });
}

async function read(object: StoredObject): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of object.body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

objectStoreContract('S3 (s3rver)', async () => {
  const server = await startS3rver();
  const store = s3Store(server, 10_000);
  return {
    store,
    partSize: 5 * MIB,
    cleanup: async () => {
      await store.close();
      await server.stop();
    },
  };
});

describe('S3ObjectStore', () => {
  let server: S3rverHandle;
  let store: S3ObjectStore;
  let staging: string;
  const file = (bytes: Buffer) => {
    const at = path.join(staging, randomBytes(6).toString('hex'));
    writeFileSync(at, bytes);
    return { path: at, size: bytes.length };
  };
  before(async () => {
    server = await startS3rver();
    store = s3Store(server, TIMEOUT_MS);
    staging = mkdtempSync(path.join(tmpdir(), 'parley-s3-staging-'));
  });
  after(async () => {
    await store.close();
    await store.close();
    await server.stop();
    rmSync(staging, { recursive: true, force: true });
  });

  it('presignPut: a URL signing the length and the type, to which a PUT of the exact bytes stores the object', async () => {
    const bytes = randomBytes(3000);
    const url = await store.presignPut('direct/upload.bin', { size: bytes.length, contentType: 'application/pdf', expiresInS: 60 });
    assert.ok(url !== null);
    const signed = new URL(url).searchParams.get('X-Amz-SignedHeaders')?.split(';') ?? [];
    assert.deepEqual(signed.sort(), ['content-length', 'content-type', 'host'], 'S3 refuses a PUT of another length or type');
    assert.equal(new URL(url).searchParams.get('X-Amz-Expires'), '60');
    // No checksum of an empty body signed in (the SDK's default would put one in).
    assert.ok(![...new URL(url).searchParams.keys()].some((k) => k.toLowerCase().startsWith('x-amz-checksum')), url);
    const answer = await fetch(url, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/pdf' } });
    assert.equal(answer.status, 200, await answer.text());
    assert.deepEqual(await store.stat('direct/upload.bin'), { size: 3000, contentType: 'application/pdf' });
    const object = await store.get('direct/upload.bin');
    assert.ok(object !== undefined);
    assert.ok((await read(object)).equals(bytes));
  });

  it('presignGet: a URL answering the bytes with the Content-Type and Content-Disposition asked', async () => {
    const bytes = randomBytes(777);
    await store.put('direct/download.bin', file(bytes), { contentType: 'application/octet-stream' });
    const disposition = 'attachment; filename="report.pdf"; filename*=UTF-8\'\'r%C3%A9port.pdf';
    const url = await store.presignGet('direct/download.bin', { expiresInS: 60, contentType: 'application/pdf', contentDisposition: disposition });
    assert.ok(url !== null);
    const answer = await fetch(url);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('content-type'), 'application/pdf');
    assert.equal(answer.headers.get('content-disposition'), disposition);
    assert.ok(Buffer.from(await answer.arrayBuffer()).equals(bytes));
  });

  it('refuses a presigned URL once it has expired', async () => {
    await store.put('direct/expiring.txt', file(Buffer.from('soon gone')), { contentType: 'text/plain' });
    const url = await store.presignGet('direct/expiring.txt', { expiresInS: 1, contentType: 'text/plain', contentDisposition: 'inline' });
    assert.ok(url !== null);
    assert.equal((await fetch(url)).status, 200, 'fine while fresh');
    await sleep(2_100);
    const answer = await fetch(url);
    assert.equal(answer.status, 403);
    assert.match(await answer.text(), /Request has expired/);
  });

  it('is what openObjectStore builds for FILE_STORAGE=s3', async () => {
    const opened = openObjectStore(
      testConfig({
        FILE_STORAGE: 's3',
        S3_ENDPOINT: server.endpoint,
        S3_BUCKET: server.bucket,
        S3_ACCESS_KEY_ID: server.credentials.accessKeyId,
        S3_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
        S3_PART_SIZE_MB: 7,
      }),
    );
    try {
      assert.ok(opened instanceof S3ObjectStore);
      assert.equal(opened.partSize, 7 * MIB);
      await opened.ping();
      assert.throws(() => openObjectStore(testConfig({ FILE_STORAGE: 's3', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'only-the-id' })), /go together/);
    } finally {
      await opened.close();
    }
  });

  it('regression: behind its breaker it still closes (and its getters read), though the proxy is not the adapter its private fields belong to', async () => {
    const own = s3Store(server, TIMEOUT_MS);
    const breakers = new Breakers({ errorThresholdPercent: 50, volumeThreshold: 5, resetMs: 1_000, rollingWindowMs: 10_000, maxEndpoints: 10, timeoutMs: false });
    try {
      const guarded = guardObjectStore(own, breakers.for('storage'));
      assert.equal((guarded as S3ObjectStore).partSize, 5 * MIB);
      await guarded.close();
      await guarded.close();
    } finally {
      breakers.close();
    }
  });

  it('a plain Error, not an outage, for a bucket that is not there (which only ping and calls with an answer body can tell)', async () => {
    const wrong = new S3ObjectStore({ bucket: 'no-such-bucket', endpoint: server.endpoint, region: 'us-east-1', credentials: server.credentials, forcePathStyle: true, partSize: 5 * MIB, timeoutMs: TIMEOUT_MS });
    try {
      // HEAD answers have no body to name the error: a HeadObject there is a 404 like a missing object.
      assert.equal(await wrong.stat('a'), undefined);
      await assert.rejects(wrong.ping(), (e: unknown) => e instanceof Error && !(e instanceof AppError));
      await assert.rejects(wrong.get('a'), (e: unknown) => e instanceof Error && !(e instanceof AppError) && /NoSuchBucket/.test(e.message));
      await assert.rejects(wrong.put('a', file(Buffer.from('x')), { contentType: 'text/plain' }), (e: unknown) => e instanceof Error && !(e instanceof AppError));
    } finally {
      await wrong.close();
    }
  });

  it('while the server is down every call rejects with unavailable at once, and works again once it is back', async () => {
    await store.put('outage/kept.txt', file(Buffer.from('kept')), { contentType: 'text/plain' });
    await server.halt();
    try {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['ping', () => store.ping()],
        ['stat', () => store.stat('outage/kept.txt')],
        ['get', () => store.get('outage/kept.txt')],
        ['put', () => store.put('outage/new.txt', file(Buffer.from('new')), { contentType: 'text/plain' })],
        ['put in parts', () => store.put('outage/large.bin', file(Buffer.alloc(6 * MIB)), { contentType: 'text/plain' })],
        ['delete', () => store.delete(['outage/kept.txt'])],
      ];
      for (const [what, call] of calls) {
        const started = Date.now();
        await assert.rejects(call(), isUnavailable, what);
        assert.ok(Date.now() - started < 2 * TIMEOUT_MS + 1_000, `${what} took ${Date.now() - started} ms`);
      }
    } finally {
      await server.start();
    }
    assert.deepEqual(await store.stat('outage/kept.txt'), { size: 4, contentType: 'text/plain' });
  });

  it('while the server hangs, calls reject with unavailable once the timeout passes', async () => {
    await store.put('hang/kept.txt', file(Buffer.from('kept')), { contentType: 'text/plain' });
    server.pause();
    try {
      for (const [what, call] of [
        ['stat', () => store.stat('hang/kept.txt')],
        ['put', () => store.put('hang/new.txt', file(Buffer.from('new')), { contentType: 'text/plain' })],
      ] as Array<[string, () => Promise<unknown>]>) {
        const started = Date.now();
        await assert.rejects(call(), isUnavailable, what);
        const took = Date.now() - started;
        // Two attempts, each up to the timeout.
        assert.ok(took >= TIMEOUT_MS * 0.9 && took < 2 * TIMEOUT_MS + 1_500, `${what} took ${took} ms`);
      }
    } finally {
      server.resume();
    }
    assert.deepEqual(await store.stat('hang/kept.txt'), { size: 4, contentType: 'text/plain' });
  });

  it('behind its breaker: opens while the server is down, refuses at once, closes once it is back', async () => {
    const transitions: string[] = [];
    let rejected = 0;
    const breakers = new Breakers({
      errorThresholdPercent: 50,
      volumeThreshold: 4,
      resetMs: 1_000,
      rollingWindowMs: 10_000,
      maxEndpoints: 10,
      timeoutMs: false,
      observer: {
        transition: (_name, _kind, _from, to) => transitions.push(to),
        rejected: () => {
          rejected++;
        },
      },
    });
    const breaker = breakers.for('files');
    const files: ObjectStore = guardObjectStore(store, breaker);
    try {
      assert.equal(files.kind, 's3');
      await files.put('breaker/kept.txt', file(Buffer.from('kept')), { contentType: 'text/plain' });
      await server.halt();
      try {
        for (let i = 0; i < 6; i++) await assert.rejects(files.stat('breaker/kept.txt'), isUnavailable);
        assert.equal(breaker.state, 'open');
        const before = rejected;
        const started = Date.now();
        await assert.rejects(files.get('breaker/kept.txt'), isUnavailable);
        await assert.rejects(files.presignGet('breaker/kept.txt', { expiresInS: 60, contentType: 'text/plain', contentDisposition: 'inline' }), isUnavailable);
        assert.ok(Date.now() - started < 50, 'refused without reaching the storage');
        assert.equal(rejected, before + 2);
      } finally {
        await server.start();
      }
      await sleep(1_100);
      assert.deepEqual(await files.stat('breaker/kept.txt'), { size: 4, contentType: 'text/plain' });
      assert.equal(breaker.state, 'closed');
      assert.deepEqual(transitions, ['open', 'half_open', 'closed']);
    } finally {
      breakers.close();
    }
  });
});
