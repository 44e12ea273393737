/**
 * Files end to end on a real server with S3 storage: s3rver in a child process of the test's own
 * (test/support/s3rver.ts), the server talking to it through the real S3 adapter and its breaker.
 * What the filesystem suite (files.test.ts) proves of the checks is not repeated; what is proved
 * here is what only S3 has: the objects really are in the bucket (listed with an S3 client of the
 * test's own), a file past the part size goes up as a multipart upload and reads back byte for
 * byte, Range reads through the adapter, and the direct path (a presigned PUT, then `complete`),
 * its conflicts, a confirmation retried after a storage outage, and the sweep deleting what a
 * refused or deleted file left in the bucket. The server reaches s3rver through a small HTTP
 * proxy of the test's that records every request (to see a multipart upload's parts) and can
 * fail writes (a storage outage that spares reads).
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { testConfig } from '../../src/config.js';
import { type Attachment, fetchFile, until, upload } from '../support/files.js';
import { type S3rverHandle, startS3rver } from '../support/s3rver.js';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const MIB = 1024 * 1024;

type DirectUpload = { id: string; url: string; method: string; headers: Record<string, string>; expiresAt: string };

const send = (server: TestServer, user: TestUser, roomId: string, body: string, attachments: string[]) =>
  api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: user.token, body: { body, attachments } });

const complete = (server: TestServer, user: TestUser, id: string) =>
  api<{ upload: Attachment; error: { code: string; details?: Record<string, unknown> } }>(server.url, 'POST', `/api/v1/uploads/${id}/complete`, { token: user.token });

/** `size` bytes that no signature matches and no text check takes for text: application/octet-stream. */
function binary(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let at = 0; at < size; at += block.length) {
    block = createHmac('sha256', block).update(seed).digest();
    block.copy(out, at);
  }
  // NUL bytes up front: never text, and no magic number starts with them.
  out.fill(0, 0, 16);
  return out;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

const photo = (width = 800, height = 600) => sharp({ create: { width, height, channels: 3, background: { r: 30, g: 120, b: 200 } } }).jpeg().toBuffer();

describe('files on S3 (s3rver)', () => {
  let s3: S3rverHandle;
  let bucket: S3Client;
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let room: string;
  /** Between the server and s3rver: every request's method and path, to see how an object went up. */
  let recorder: Server;
  const seen: string[] = [];
  /** While set, the recorder answers 503 to writes under files/ (reads and incoming/ pass). */
  let failWrites = false;

  /** Every key in the bucket (under `prefix`), read with a client of the test's own. */
  async function keys(prefix = ''): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await bucket.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const object of page.Contents ?? []) if (object.Key !== undefined) out.push(object.Key);
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  before(async () => {
    s3 = await startS3rver();
    bucket = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', credentials: s3.credentials, forcePathStyle: true });
    // s3rver checks no signature, so the Host the server signed for may be the recorder's.
    recorder = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      if (failWrites && (req.method === 'PUT' || req.method === 'POST') && req.url?.startsWith(`/${s3.bucket}/files/`)) {
        req.resume();
        res.writeHead(503, { 'content-type': 'application/xml' }).end('<Error><Code>ServiceUnavailable</Code><Message>down</Message></Error>');
        return;
      }
      const upstream = request({ host: '127.0.0.1', port: s3.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(recorder.address() as AddressInfo).port}`;
    server = await startTestServer({
      FILE_STORAGE: 's3',
      S3_ENDPOINT: endpoint,
      S3_BUCKET: s3.bucket,
      S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      S3_FORCE_PATH_STYLE: true,
      S3_PART_SIZE_MB: 5,
      UPLOAD_MAX_BYTES: 16 * MIB,
      UPLOAD_TYPES: [...testConfig().UPLOAD_TYPES, 'application/octet-stream'],
      SEND_RATE_PER_SEC: 10_000,
      SEND_BURST: 10_000,
    });
    [alice, bob] = await Promise.all([registerUser(server.url, 'alice'), registerUser(server.url, 'bob')]);
    room = await createRoom(server.url, alice, 'private', 'files-s3');
    assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${room}/members`, { token: alice.token, body: { username: bob.username } })).status, 200);
  });

  after(async () => {
    await server?.stop();
    bucket?.destroy();
    recorder?.closeAllConnections();
    recorder?.close();
    await s3?.stop();
  });

  it('an image and a text file go up through the server, are sent, and are read back by another member (live, in history, with Range)', async () => {
    const ws = await WsTestClient.connect(server.wsUrl, { token: bob.token });
    try {
      assert.equal((await ws.request({ type: 'subscribe', roomId: room })).ok, true);
      const [image, text] = await Promise.all([upload(server, alice, room, 'sky.jpg', await photo()), upload(server, alice, room, 'notes.txt', Buffer.from('stored in a bucket, ünïcødé 🎉\n'))]);
      assert.equal(image.status, 201, JSON.stringify(image.body));
      assert.equal(text.status, 201, JSON.stringify(text.body));
      assert.deepEqual(image.body.upload.thumbnail, { width: 480, height: 360 });
      assert.equal(text.body.upload.contentType, 'text/plain');
      const stored = await keys();
      for (const key of [`files/${room}/${image.body.upload.id}`, `files/${room}/${image.body.upload.id}.thumb`, `files/${room}/${text.body.upload.id}`]) {
        assert.ok(stored.includes(key), `${key} is in the bucket (${stored.join(', ')})`);
      }

      const sent = await send(server, alice, room, 'from the bucket', [image.body.upload.id, text.body.upload.id]);
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      const event = await ws.waitFor((f) => f.type === 'event' && (f as { message?: { body?: string } }).message?.body === 'from the bucket');
      assert.deepEqual((event as { message: { attachments: Attachment[] } }).message.attachments, [image.body.upload, text.body.upload]);
      const history = await api(server.url, 'GET', `/api/v1/rooms/${room}/messages?limit=3`, { token: bob.token });
      assert.deepEqual(history.body.messages.find((m: { body: string }) => m.body === 'from the bucket').attachments, [image.body.upload, text.body.upload]);

      const file = await fetchFile(server, `/api/v1/files/${image.body.upload.id}`, bob.token);
      assert.equal(file.status, 200);
      assert.equal(file.headers.get('content-type'), 'image/jpeg');
      assert.equal(file.body.length, image.body.upload.size);
      assert.deepEqual([(await sharp(file.body).metadata()).width, (await sharp(file.body).metadata()).height], [800, 600]);
      const thumb = await fetchFile(server, `/api/v1/files/${image.body.upload.id}/thumbnail`, bob.token);
      assert.equal(thumb.status, 200);
      assert.equal((await sharp(thumb.body).metadata()).width, 480);

      // Ranges through the adapter: the first bytes, one byte (s3rver reads bytes=0-0 as 0-), a tail, past the end.
      const head = await fetchFile(server, `/api/v1/files/${image.body.upload.id}`, bob.token, { range: 'bytes=0-9' });
      assert.equal(head.status, 206);
      assert.equal(head.headers.get('content-range'), `bytes 0-9/${image.body.upload.size}`);
      assert.deepEqual(head.body, file.body.subarray(0, 10));
      const one = await fetchFile(server, `/api/v1/files/${image.body.upload.id}`, bob.token, { range: 'bytes=0-0' });
      assert.equal(one.status, 206);
      assert.deepEqual(one.body, file.body.subarray(0, 1));
      const middle = await fetchFile(server, `/api/v1/files/${image.body.upload.id}`, bob.token, { range: 'bytes=100-199' });
      assert.deepEqual(middle.body, file.body.subarray(100, 200));
      const tail = await fetchFile(server, `/api/v1/files/${image.body.upload.id}`, bob.token, { range: 'bytes=-7' });
      assert.deepEqual(tail.body, file.body.subarray(file.body.length - 7));
      assert.equal((await fetchFile(server, `/api/v1/files/${image.body.upload.id}`, bob.token, { range: `bytes=${image.body.upload.size}-` })).status, 416);

      const words = await fetchFile(server, `/api/v1/files/${text.body.upload.id}`, bob.token, { range: 'bytes=0-8' });
      assert.equal(words.status, 206);
      assert.equal(words.body.toString(), 'stored in');
    } finally {
      ws.close();
    }
  });

  it('a file larger than the part size goes up as a multipart upload and reads back byte for byte, whole and in ranges', async () => {
    const bytes = binary(12 * MIB + 12_345, 'multipart');
    const res = await upload(server, alice, room, 'big.bin', bytes);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.upload.contentType, 'application/octet-stream');
    assert.equal(res.body.upload.size, bytes.length);
    // Three parts (5, 5 and 2 MiB) of one multipart upload, as the server sent them.
    const key = `/${s3.bucket}/files/${room}/${res.body.upload.id}`;
    const calls = seen.filter((c) => c.startsWith(`POST ${key}?`) || c.startsWith(`PUT ${key}?`));
    assert.equal(calls.filter((c) => /^PUT .*partNumber=/.test(c)).length, 3, calls.join('\n'));
    assert.equal(calls.filter((c) => /^POST .*uploads/.test(c)).length, 1, 'created once');
    assert.equal(calls.filter((c) => /^POST .*uploadId=/.test(c)).length, 1, 'completed once');
    assert.equal((await send(server, alice, room, 'a big one', [res.body.upload.id])).status, 201);

    const file = await fetchFile(server, `/api/v1/files/${res.body.upload.id}`, bob.token);
    assert.equal(file.status, 200);
    assert.match(file.headers.get('content-disposition') ?? '', /^attachment;/);
    assert.equal(file.body.length, bytes.length);
    assert.equal(sha256(file.body), sha256(bytes));
    // A range across the first part boundary (5 MiB), and the last bytes of the last part.
    const across = await fetchFile(server, `/api/v1/files/${res.body.upload.id}`, bob.token, { range: `bytes=${5 * MIB - 100}-${5 * MIB + 99}` });
    assert.equal(across.status, 206);
    assert.deepEqual(across.body, bytes.subarray(5 * MIB - 100, 5 * MIB + 100));
    const end = await fetchFile(server, `/api/v1/files/${res.body.upload.id}`, bob.token, { range: 'bytes=-1000' });
    assert.deepEqual(end.body, bytes.subarray(bytes.length - 1000));
  });

  it('direct: presign, PUT the bytes to the URL with its headers, complete, attach, read; completing early or twice is a conflict', async () => {
    const bytes = Buffer.from('sent straight to the bucket\n'.repeat(100));
    const created = await api<{ upload: DirectUpload }>(server.url, 'POST', `/api/v1/rooms/${room}/uploads/direct`, { token: alice.token, body: { name: 'direct.txt', size: bytes.length } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const direct = created.body.upload;
    assert.equal(direct.method, 'PUT');
    assert.equal(direct.headers['content-length'], String(bytes.length));
    assert.ok(Date.parse(direct.expiresAt) > Date.now());

    const early = await complete(server, alice, direct.id);
    assert.equal(early.status, 409, 'nothing was PUT yet');
    assert.equal(early.body.error.code, 'conflict');

    const put = await fetch(direct.url, { method: direct.method, headers: direct.headers, body: new Uint8Array(bytes), signal: AbortSignal.timeout(20_000) });
    assert.equal(put.status, 200, await put.text());
    assert.deepEqual(await keys('incoming/'), [`incoming/${direct.id}`]);

    assert.equal((await complete(server, bob, direct.id)).status, 404, 'only its uploader confirms it');
    const done = await complete(server, alice, direct.id);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.upload.contentType, 'text/plain');
    assert.equal(done.body.upload.size, bytes.length);
    assert.deepEqual(await keys('incoming/'), [], 'the incoming object is deleted once stored under its own key');
    const twice = await complete(server, alice, direct.id);
    assert.equal(twice.status, 409);

    // The URL still works until it expires: what is PUT again lies in incoming/ until the job
    // the presign scheduled for after the expiry deletes it.
    const again = await fetch(direct.url, { method: direct.method, headers: direct.headers, body: new Uint8Array(bytes), signal: AbortSignal.timeout(20_000) });
    assert.equal(again.status, 200);
    assert.deepEqual(await keys('incoming/'), [`incoming/${direct.id}`]);
    assert.ok((await server.parley.slowWork.jobs.counts('files-sweep')).delayed >= 1, 'the deletion is scheduled');
    await server.parley.slowWork.files.runJob({ incoming: direct.id });
    assert.deepEqual(await keys('incoming/'), []);

    assert.equal((await send(server, alice, room, 'direct', [direct.id])).status, 201);
    const file = await fetchFile(server, `/api/v1/files/${direct.id}`, bob.token);
    assert.equal(file.status, 200);
    assert.deepEqual(file.body, bytes);
  });

  it('direct: a confirmation that meets a storage outage is answered 503 and may be retried once the storage is back', async () => {
    const bytes = Buffer.from('confirmed on the second try\n');
    const created = await api<{ upload: DirectUpload }>(server.url, 'POST', `/api/v1/rooms/${room}/uploads/direct`, { token: alice.token, body: { name: 'retry.txt', size: bytes.length } });
    const direct = created.body.upload;
    assert.equal((await fetch(direct.url, { method: direct.method, headers: direct.headers, body: new Uint8Array(bytes), signal: AbortSignal.timeout(20_000) })).status, 200);
    failWrites = true;
    try {
      const failed = await complete(server, alice, direct.id);
      assert.equal(failed.status, 503, JSON.stringify(failed.body));
      assert.equal(failed.body.error.code, 'unavailable');
    } finally {
      failWrites = false;
    }
    const retried = await complete(server, alice, direct.id);
    assert.equal(retried.status, 200, `the retry is taken, not refused as confirmed already: ${JSON.stringify(retried.body)}`);
    assert.equal((await send(server, alice, room, 'retried', [direct.id])).status, 201);
    assert.deepEqual((await fetchFile(server, `/api/v1/files/${direct.id}`, bob.token)).body, bytes);
  });

  it('direct: HTML is refused at complete (415), and the sweep deletes what was PUT', async () => {
    const html = Buffer.from('<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>');
    const created = await api<{ upload: DirectUpload }>(server.url, 'POST', `/api/v1/rooms/${room}/uploads/direct`, { token: alice.token, body: { name: 'cat.png', size: html.length } });
    assert.equal(created.status, 201);
    const direct = created.body.upload;
    const put = await fetch(direct.url, { method: direct.method, headers: direct.headers, body: new Uint8Array(html), signal: AbortSignal.timeout(20_000) });
    assert.equal(put.status, 200);
    const refused = await complete(server, alice, direct.id);
    assert.equal(refused.status, 415);
    assert.equal(refused.body.error.code, 'unsupported_media_type');
    assert.equal(refused.body.error.details?.contentType, 'text/html');
    assert.equal((await complete(server, alice, direct.id)).status, 409, 'refused for good');
    assert.ok(!(await keys()).some((k) => k.startsWith('files/') && k.endsWith(direct.id)), 'nothing was stored under its own key');
    assert.deepEqual(await keys('incoming/'), [`incoming/${direct.id}`], 'what was PUT waits for the sweep');

    await server.parley.slowWork.files.sweep();
    assert.deepEqual(await keys('incoming/'), [], 'no incoming object is left');
  });

  it('deleting a message deletes its objects from the bucket (the sweep job)', async () => {
    const res = await upload(server, alice, room, 'gone.jpg', await photo(600, 400));
    assert.equal(res.status, 201);
    const id = res.body.upload.id;
    const sent = await send(server, alice, room, 'soon gone', [id]);
    assert.equal(sent.status, 201);
    const objectsOf = async () => (await keys()).filter((k) => k.includes(id));
    assert.equal((await objectsOf()).length, 2, 'the file and its thumbnail are in the bucket');
    assert.equal((await api(server.url, 'DELETE', `/api/v1/rooms/${room}/messages/${sent.body.message.seq}`, { token: alice.token })).status, 204);
    assert.equal((await fetchFile(server, `/api/v1/files/${id}`, bob.token)).status, 404);
    await until('the deleted message\'s objects are gone from the bucket', async () => (await objectsOf()).length === 0);
  });
});
