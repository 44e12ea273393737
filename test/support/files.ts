/** What the file tests share: uploading and reading files over REST, and crafted images. */
import { deflateSync } from 'node:zlib';
import { api, type TestServer, type TestUser } from './server.js';

export type Attachment = { id: string; name: string; size: number; contentType: string; width?: number; height?: number; thumbnail?: { width: number; height: number } };
type UploadAnswer = { upload: Attachment; error: { code: string; details?: Record<string, unknown> } };

/** POST /rooms/:roomId/uploads with `bytes` as the body. */
export function upload(server: TestServer, user: TestUser, roomId: string, name: string, bytes: Buffer) {
  return api<UploadAnswer>(server.url, 'POST', `/api/v1/rooms/${roomId}/uploads?name=${encodeURIComponent(name)}`, {
    token: user.token,
    rawBody: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
}

/** A GET of `route` (a file, or a signed link without `token`), its body as bytes. */
export async function fetchFile(server: TestServer, route: string, token?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${route}`, { headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) }, signal: AbortSignal.timeout(20_000) });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** Polls `check` until it holds, or throws naming `what`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** CRC-32 (PNG's chunk checksum), bit by bit: zlib.crc32 is newer than Node 20.11. */
function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A valid PNG header claiming width × height RGB pixels, with a few bytes of image data: a decompression bomb's shape. */
export function claimedPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(64))), chunk('IEND', Buffer.alloc(0))]);
}
