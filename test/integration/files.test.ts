/**
 * Files end to end on a real server with filesystem storage: uploads checked by their bytes,
 * images re-encoded without metadata in the worker pool, attachments on messages over both
 * transports, reads by members only (by session or signed link, with Range), the limits, and the
 * files of deleted messages and discarded uploads deleted by the sweep job. Tried as an attacker
 * would: HTML passed off as a PNG, a pixel bomb, another user's upload, one upload attached
 * twice at once, a member who left, a link tampered with or expired.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { loadServerKey } from '../../src/secrets.js';
import { type Attachment, claimedPng, fetchFile, until, upload } from '../support/files.js';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

/** A photo as a phone takes one: a JPEG with a GPS position and the camera in its EXIF. */
const photo = (width = 800, height = 600) =>
  sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 30 } } })
    .jpeg()
    .withExif({ IFD0: { Make: 'SecretPhoneMaker', Model: 'X1' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2412/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 21/1 360/100' } })
    .toBuffer();

/** Every stored object's path under the files directory. */
function storedObjects(server: TestServer): string[] {
  const root = path.join(server.dataDir, 'files');
  const out: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'tmp') walk(full);
      } else out.push(path.relative(root, full));
    }
  };
  walk(root);
  return out;
}

describe('files', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  let carol: TestUser;
  let room: string;

  before(async () => {
    server = await startTestServer({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000, UPLOAD_MAX_BYTES: 2 * 1024 * 1024, UPLOAD_MAX_FILES_PER_MESSAGE: 3, IMAGE_MAX_PIXELS: 4_000_000 });
    [alice, bob, carol] = await Promise.all([registerUser(server.url, 'alice'), registerUser(server.url, 'bob'), registerUser(server.url, 'carol')]);
    room = await createRoom(server.url, alice, 'private', 'files');
    assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${room}/members`, { token: alice.token, body: { username: bob.username } })).status, 200);
  });

  after(async () => {
    await server?.stop();
  });

  it('an image is re-encoded without its EXIF and GPS, measured, and given a thumbnail; a member reads it, inline, with nothing active allowed', async () => {
    const original = await photo();
    assert.ok((await sharp(original).metadata()).exif, 'the test photo carries EXIF');
    const res = await upload(server, alice, room, 'holiday.jpg', original);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const a = res.body.upload;
    assert.equal(a.contentType, 'image/jpeg');
    assert.equal(a.name, 'holiday.jpg');
    assert.deepEqual([a.width, a.height], [800, 600]);
    assert.deepEqual(a.thumbnail, { width: 480, height: 360 });

    // Before it is sent: its uploader only.
    assert.equal((await fetchFile(server, `/api/v1/files/${a.id}`, alice.token)).status, 200);
    assert.equal((await fetchFile(server, `/api/v1/files/${a.id}`, bob.token)).status, 404);

    const sent = await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: alice.token, body: { body: '', attachments: [a.id] } });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    assert.deepEqual(sent.body.message.attachments, [a]);

    const file = await fetchFile(server, `/api/v1/files/${a.id}`, bob.token);
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'image/jpeg');
    assert.equal(file.headers.get('x-content-type-options'), 'nosniff');
    assert.match(file.headers.get('content-security-policy') ?? '', /sandbox/);
    assert.match(file.headers.get('content-disposition') ?? '', /^inline; filename="holiday\.jpg"/);
    assert.equal(file.body.length, a.size);
    const served = await sharp(file.body).metadata();
    assert.equal(served.exif, undefined, 'no EXIF is served');
    assert.ok(!file.body.includes(Buffer.from('SecretPhoneMaker')), 'the camera make is gone from the bytes');
    assert.deepEqual([served.width, served.height], [800, 600]);

    const thumb = await fetchFile(server, `/api/v1/files/${a.id}/thumbnail`, bob.token);
    assert.equal(thumb.status, 200);
    assert.equal(thumb.headers.get('content-type'), 'image/webp');
    assert.deepEqual([(await sharp(thumb.body).metadata()).width, (await sharp(thumb.body).metadata()).height], [480, 360]);

    // Ranges, and a conditional read.
    const part = await fetchFile(server, `/api/v1/files/${a.id}`, bob.token, { range: 'bytes=0-9' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 0-9/${a.size}`);
    assert.deepEqual(part.body, file.body.subarray(0, 10));
    const tail = await fetchFile(server, `/api/v1/files/${a.id}`, bob.token, { range: 'bytes=-5' });
    assert.deepEqual(tail.body, file.body.subarray(a.size - 5));
    const past = await fetchFile(server, `/api/v1/files/${a.id}`, bob.token, { range: `bytes=${a.size}-` });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), `bytes */${a.size}`);
    assert.equal(JSON.parse(past.body.toString()).error.code, 'range_not_satisfiable');
    const head = await fetch(`${server.url}/api/v1/files/${a.id}`, { method: 'HEAD', headers: { authorization: `Bearer ${bob.token}` } });
    assert.deepEqual([head.status, head.headers.get('content-length'), (await head.arrayBuffer()).byteLength], [200, String(a.size), 0]);
    const again = await fetchFile(server, `/api/v1/files/${a.id}`, bob.token, { 'if-none-match': file.headers.get('etag') ?? '' });
    assert.equal(again.status, 304);

    // Not a member: the room does not exist for them.
    assert.equal((await fetchFile(server, `/api/v1/files/${a.id}`, carol.token)).status, 404);
    assert.equal((await fetchFile(server, `/api/v1/files/${a.id}`)).status, 401);
  });

  it('messages carry their attachments live and in history; each upload is attached once, by its uploader, in its room', async () => {
    const ws = await WsTestClient.connect(server.wsUrl, { token: bob.token });
    try {
      assert.equal((await ws.request({ type: 'subscribe', roomId: room })).ok, true);
      const [doc, notes] = await Promise.all([upload(server, alice, room, 'report.pdf', Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n')), upload(server, alice, room, 'notes.txt', Buffer.from('plain words, ünïcødé and emoji 🎉\n'))]);
      assert.equal(doc.status, 201);
      assert.equal(doc.body.upload.contentType, 'application/pdf');
      assert.equal(notes.body.upload.contentType, 'text/plain');

      const alicesWs = await WsTestClient.connect(server.wsUrl, { token: alice.token });
      try {
        const reply = await alicesWs.request({ type: 'send', roomId: room, body: 'two files', attachments: [doc.body.upload.id, notes.body.upload.id] });
        assert.equal(reply.ok, true, JSON.stringify(reply));
        const event = await ws.waitFor((f) => f.type === 'event' && (f as { message?: { body?: string } }).message?.body === 'two files');
        assert.deepEqual((event as { message: { attachments: Attachment[] } }).message.attachments, [doc.body.upload, notes.body.upload]);

        // Attached already: refused, whoever sends it and however.
        const twice = await alicesWs.request({ type: 'send', roomId: room, body: 'again', attachments: [doc.body.upload.id] });
        assert.equal(twice.ok, false);
        assert.equal((twice as { error: { code: string } }).error.code, 'validation_failed');
        const bobs = await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: bob.token, body: { body: 'mine now', attachments: [notes.body.upload.id] } });
        assert.equal(bobs.status, 400);
      } finally {
        alicesWs.close();
      }

      const history = await api(server.url, 'GET', `/api/v1/rooms/${room}/messages?limit=5`, { token: bob.token });
      const withFiles = history.body.messages.find((m: { body: string }) => m.body === 'two files');
      assert.deepEqual(withFiles.attachments, [doc.body.upload, notes.body.upload]);

      // Text is served as an attachment in UTF-8, never inline.
      const text = await fetchFile(server, `/api/v1/files/${notes.body.upload.id}`, bob.token);
      assert.equal(text.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.match(text.headers.get('content-disposition') ?? '', /^attachment; filename="notes\.txt"/);
      assert.match(text.body.toString(), /emoji 🎉/);
      const pdf = await fetchFile(server, `/api/v1/files/${doc.body.upload.id}`, bob.token);
      assert.match(pdf.headers.get('content-disposition') ?? '', /^attachment;/);
    } finally {
      ws.close();
    }
  });

  it('one upload sent in two messages at once is attached to exactly one of them', async () => {
    for (let round = 0; round < 5; round++) {
      const res = await upload(server, alice, room, `race${round}.txt`, Buffer.from(`race ${round}\n`));
      assert.equal(res.status, 201);
      const sends = await Promise.all(
        Array.from({ length: 6 }, (_, i) => api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: alice.token, body: { body: `race ${round}.${i}`, attachments: [res.body.upload.id] } })),
      );
      assert.deepEqual(sends.map((s) => s.status).sort(), [201, 400, 400, 400, 400, 400]);
    }
  });

  it('what its bytes say decides the type: HTML or SVG named .png is refused, and so is a type off the list', async () => {
    const html = await upload(server, alice, room, 'cat.png', Buffer.from('<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>'));
    assert.equal(html.status, 415);
    assert.equal(html.body.error.code, 'unsupported_media_type');
    assert.equal(html.body.error.details?.contentType, 'text/html');
    const svg = await upload(server, alice, room, 'cat.png', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'));
    assert.equal(svg.status, 415);
    const exe = await upload(server, alice, room, 'setup.pdf', Buffer.concat([Buffer.from('MZ'), Buffer.alloc(200, 0x90)]));
    assert.equal(exe.status, 415);
    // A real PNG signature with HTML after it is no image: sharp cannot read it.
    const polyglot = await upload(server, alice, room, 'poly.png', Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('<html><script>alert(1)</script></html>')]));
    assert.equal(polyglot.status, 415);
  });

  it('a PNG claiming a billion pixels is refused from its header, without the process growing', async () => {
    const bomb = claimedPng(40_000, 40_000);
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 2);
    try {
      const res = await upload(server, alice, room, 'bomb.png', bomb);
      assert.equal(res.status, 413);
      assert.equal(res.body.error.code, 'payload_too_large');
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak - before < 64 * 1024 * 1024, `RSS grew ${((peak - before) / 1048576).toFixed(1)} MB`);
  });

  it('limits: size per file (nothing stored, no quota spent), files per message, and direct uploads without S3', async () => {
    const big = await upload(server, alice, room, 'big.txt', Buffer.alloc(2 * 1024 * 1024 + 1, 0x61));
    assert.equal(big.status, 413);
    assert.equal(big.headers.get('connection'), 'close');
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await upload(server, alice, room, `n${i}.txt`, Buffer.from(`note ${i}\n`))).body.upload.id);
    const tooMany = await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: alice.token, body: { body: 'four', attachments: ids } });
    assert.equal(tooMany.status, 400);
    const blank = await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: alice.token, body: { body: '' } });
    assert.equal(blank.status, 400);
    const direct = await api(server.url, 'POST', `/api/v1/rooms/${room}/uploads/direct`, { token: alice.token, body: { name: 'x.bin', size: 10 } });
    assert.equal(direct.status, 409);
    // Not JSON and not an octet-stream: refused before a byte is stored.
    const wrongType = await api(server.url, 'POST', `/api/v1/rooms/${room}/uploads?name=a.txt`, { token: alice.token, rawBody: 'hello', headers: { 'content-type': 'text/plain' } });
    assert.equal(wrongType.status, 400);
    // A non-member cannot upload to the room.
    assert.equal((await upload(server, carol, room, 'x.txt', Buffer.from('hi'))).status, 404);
  });

  it('a member who leaves loses the files at once, by session and by a link issued before', async () => {
    const res = await upload(server, alice, room, 'leave.txt', Buffer.from('for members\n'));
    await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: alice.token, body: { body: 'read me', attachments: [res.body.upload.id] } });
    const link = await api(server.url, 'GET', `/api/v1/files/${res.body.upload.id}/link`, { token: bob.token });
    assert.equal(link.status, 200);
    const url = String(link.body.url);
    assert.equal((await fetchFile(server, url)).status, 200, 'the link works without a session');
    assert.equal((await fetchFile(server, url.replace(/signature=[^&]+/, 'signature=AAAA'))).status, 403, 'a tampered link is refused');
    assert.equal((await fetchFile(server, url.replace('/link', '').replace(res.body.upload.id, res.body.upload.id).replace(`user=${bob.id}`, `user=${alice.id}`))).status, 403, 'a link is for its user only');

    // A link whose time is up, signed with the server's own key, is refused.
    const key = loadServerKey('', server.dataDir);
    const expired = Math.floor(Date.now() / 1000) - 1;
    const signature = key.sign(`file\n${res.body.upload.id}\nfile\n${bob.id}\n${expired}`);
    const stale = await fetchFile(server, `/api/v1/files/${res.body.upload.id}?user=${bob.id}&expires=${expired}&signature=${signature}`);
    assert.equal(stale.status, 403);
    assert.match(JSON.parse(stale.body.toString()).error.message, /expired/);

    assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${room}/leave`, { token: bob.token })).status, 204);
    assert.equal((await fetchFile(server, `/api/v1/files/${res.body.upload.id}`, bob.token)).status, 404);
    assert.equal((await fetchFile(server, url)).status, 404, 'the link stops working when its user leaves');
    assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${room}/members`, { token: alice.token, body: { username: bob.username } })).status, 200);
  });

  it('deleting a message deletes its files (the sweep job); a discarded upload goes too, and an unattached one after its time', async () => {
    const res = await upload(server, alice, room, 'gone.jpg', await photo(600, 400));
    const id = res.body.upload.id;
    const sent = await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: alice.token, body: { body: 'soon gone', attachments: [id] } });
    const objectsOf = () => storedObjects(server).filter((p) => p.includes(id));
    assert.equal(objectsOf().length, 2, 'the file and its thumbnail are stored');
    assert.equal((await api(server.url, 'DELETE', `/api/v1/rooms/${room}/messages/${sent.body.message.seq}`, { token: alice.token })).status, 204);
    assert.equal((await fetchFile(server, `/api/v1/files/${id}`, bob.token)).status, 404, 'unreadable once its message is deleted');
    const history = await api(server.url, 'GET', `/api/v1/rooms/${room}/messages?limit=3`, { token: bob.token });
    const tomb = history.body.messages.find((m: { seq: number }) => m.seq === sent.body.message.seq);
    assert.equal(tomb.deleted, true);
    assert.equal(tomb.attachments, undefined);
    await until('the deleted message\'s files are gone from storage', () => objectsOf().length === 0);

    const cancelled = await upload(server, alice, room, 'oops.txt', Buffer.from('never mind\n'));
    assert.equal((await api(server.url, 'DELETE', `/api/v1/uploads/${cancelled.body.upload.id}`, { token: bob.token })).status, 404, 'only the uploader discards it');
    assert.equal((await api(server.url, 'DELETE', `/api/v1/uploads/${cancelled.body.upload.id}`, { token: alice.token })).status, 204);
    const late = await api(server.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: alice.token, body: { body: 'late', attachments: [cancelled.body.upload.id] } });
    assert.equal(late.status, 400);
    await until('the discarded upload is gone from storage', () => !storedObjects(server).some((p) => p.includes(cancelled.body.upload.id)));

    const forgotten = await upload(server, alice, room, 'forgotten.txt', Buffer.from('left behind\n'));
    const sweep = await server.parley.slowWork.files.sweep(Date.now() + 25 * 3_600_000);
    assert.ok(sweep.doomed >= 1);
    assert.ok(!storedObjects(server).some((p) => p.includes(forgotten.body.upload.id)), 'an upload never attached is swept after its time');
  });

  it('avatars: an image only, square and without metadata, seen by others; a room\'s set by its owner only', async () => {
    const put = await api(server.url, 'PUT', '/api/v1/me/avatar', { token: alice.token, rawBody: await photo(900, 600), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 204, JSON.stringify(put.body));
    const avatar = await fetchFile(server, `/api/v1/users/${alice.id}/avatar`, carol.token);
    assert.equal(avatar.status, 200);
    assert.equal(avatar.headers.get('content-type'), 'image/webp');
    const meta = await sharp(avatar.body).metadata();
    assert.deepEqual([meta.width, meta.height, meta.exif], [256, 256, undefined]);
    assert.equal((await fetchFile(server, `/api/v1/users/${bob.id}/avatar`, carol.token)).status, 404);
    const text = await api(server.url, 'PUT', '/api/v1/me/avatar', { token: alice.token, rawBody: 'not an image', headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(text.status, 415);

    const notOwner = await api(server.url, 'PUT', `/api/v1/rooms/${room}/avatar`, { token: bob.token, rawBody: await photo(100, 100), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(notOwner.status, 403);
    const owner = await api(server.url, 'PUT', `/api/v1/rooms/${room}/avatar`, { token: alice.token, rawBody: await photo(100, 100), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(owner.status, 204);
    assert.equal((await fetchFile(server, `/api/v1/rooms/${room}/avatar`, bob.token)).status, 200);
    assert.equal((await fetchFile(server, `/api/v1/rooms/${room}/avatar`, carol.token)).status, 404, 'a private room\'s avatar is for its members');
    assert.equal((await api(server.url, 'DELETE', '/api/v1/me/avatar', { token: alice.token })).status, 204);
    assert.equal((await fetchFile(server, `/api/v1/users/${alice.id}/avatar`, carol.token)).status, 404);
  });
});

describe('files: the daily quota', () => {
  let server: TestServer;
  after(async () => {
    await server?.stop();
  });

  it('counts every upload of the last 24 hours, also concurrent ones, and a refused upload gives its share back', async () => {
    server = await startTestServer({ UPLOAD_DAILY_BYTES: 10_000, UPLOAD_MAX_BYTES: 6_000 });
    const dan = await registerUser(server.url, 'dan');
    const room = await createRoom(server.url, dan, 'public', 'quota');
    const tooBig = await upload(server, dan, room, 'big.txt', Buffer.alloc(6_001, 0x61));
    assert.equal(tooBig.status, 413);
    // Six uploads of 3,000 bytes at once: three fit in 10,000, whatever their order.
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => upload(server, dan, room, `q${i}.txt`, Buffer.alloc(3_000, 0x61 + i))));
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 201, 201, 429, 429, 429]);
    const refused = results.find((r) => r.status === 429);
    assert.equal(refused?.body.error.code, 'rate_limited');
    assert.equal(refused?.body.error.details?.dailyBytes, 10_000);
  });

  it('charges the bytes sent, not the few an image is re-encoded to', async () => {
    const gus = await registerUser(server.url, 'gus');
    const room = await createRoom(server.url, gus, 'public', 'quota images');
    // A tiny image wrapped in 5 KB of metadata: stored as a few hundred bytes.
    const padded = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#123456' } })
      .jpeg()
      .withExif({ IFD0: { ImageDescription: 'x'.repeat(5_000) } })
      .toBuffer();
    const first = await upload(server, gus, room, 'padded.jpg', padded);
    assert.equal(first.status, 201);
    assert.ok(first.body.upload.size < 1_000, `stored as ${first.body.upload.size} bytes`);
    const again = await upload(server, gus, room, 'padded2.jpg', padded);
    assert.equal(again.status, 429, 'two 5 KB uploads and more do not fit in 10,000 bytes, however small they are stored');
  });
});

describe('files: slow bodies', () => {
  let server: TestServer;
  after(async () => {
    await server?.stop();
  });

  /** Sends `chunks` pieces of `size` bytes, `gapMs` apart, as one request's body; answers the status and body. */
  function trickle(url: URL, method: string, headers: Record<string, string>, piece: Buffer, chunks: number, gapMs: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const request = http.request(url, { method, headers: { ...headers, 'content-length': String(piece.length * chunks) } }, (response) => {
        let body = '';
        response.on('data', (c: Buffer) => {
          body += c.toString();
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      request.on('error', reject);
      let sent = 0;
      const next = () => {
        if (request.destroyed) return;
        request.write(piece);
        sent += 1;
        if (sent < chunks) setTimeout(next, gapMs);
        else request.end();
      };
      next();
    });
  }

  it('an upload may take longer than the request deadline while it keeps sending; any other body may not', async () => {
    server = await startTestServer({ HTTP_REQUEST_TIMEOUT_MS: 1_000, HTTP_HEADERS_TIMEOUT_MS: 1_000 });
    const erin = await registerUser(server.url, 'erin');
    const room = await createRoom(server.url, erin, 'public', 'slow');
    const auth = { authorization: `Bearer ${erin.token}` };
    // 25 pieces of 8 KiB, 100 ms apart: 2.5 s, at 80 KiB/s.
    const upload = await trickle(new URL(`${server.url}/api/v1/rooms/${room}/uploads?name=slow.txt`), 'POST', { ...auth, 'content-type': 'application/octet-stream' }, Buffer.alloc(8192, 0x62), 25, 100);
    assert.equal(upload.status, 201, upload.body);
    assert.equal(JSON.parse(upload.body).upload.size, 25 * 8192);
    // A JSON body trickled past the deadline is cut off with 400, as before.
    const slowJson = await trickle(new URL(`${server.url}/api/v1/rooms`), 'POST', { ...auth, 'content-type': 'application/json' }, Buffer.from(' '), 25, 100);
    assert.equal(slowJson.status, 400);
    assert.match(slowJson.body, /did not arrive in time/);
  });
});

describe('files: refusals close the connection', () => {
  let server: TestServer;
  after(async () => {
    await server?.stop();
  });

  /** Sends headers announcing a huge body, and `prefix` of it only; answers what came back and whether the server closed. */
  function announce(url: URL, headers: Record<string, string>, prefix: Buffer, chunked = false): Promise<{ status: number; body: string; closed: boolean }> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname);
      let raw = '';
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1] ?? 0), body: raw, closed: false });
      }, 5_000);
      socket.on('data', (c: Buffer) => {
        raw += c.toString();
      });
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1] ?? 0), body: raw, closed: true });
      });
      socket.on('error', reject);
      const head = Object.entries({ host: url.host, ...headers, ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': '999999999999' }) })
        .map(([k, v]) => `${k}: ${v}`)
        .join('\r\n');
      socket.write(`POST ${url.pathname}${url.search} HTTP/1.1\r\n${head}\r\n\r\n`);
      socket.write(chunked ? `${prefix.length.toString(16)}\r\n${prefix.toString('latin1')}\r\n` : prefix);
    });
  }

  it('a refused upload is answered at once and its connection closed, signed in or not; one past the size mid-body gets its 413', async () => {
    server = await startTestServer({ UPLOAD_MAX_BYTES: 100_000 });
    const fay = await registerUser(server.url, 'fay');
    const room = await createRoom(server.url, fay, 'public', 'close');
    const url = new URL(`${server.url}/api/v1/rooms/${room}/uploads?name=a.bin`);
    const anonymous = await announce(url, { 'content-type': 'application/octet-stream' }, Buffer.alloc(1000));
    assert.equal(anonymous.status, 401);
    assert.ok(anonymous.closed, 'the server closed the connection');
    const declaredTooBig = await announce(url, { 'content-type': 'application/octet-stream', authorization: `Bearer ${fay.token}` }, Buffer.alloc(1000));
    assert.equal(declaredTooBig.status, 413);
    assert.ok(declaredTooBig.closed);
    // Chunked: the size is known only when the bytes pass it, mid-body.
    const passes = await announce(url, { 'content-type': 'application/octet-stream', authorization: `Bearer ${fay.token}` }, Buffer.alloc(150_000, 0x61), true);
    assert.equal(passes.status, 413, passes.body.slice(0, 300));
    assert.match(passes.body, /payload_too_large/);
    assert.ok(passes.closed);
  });
});
