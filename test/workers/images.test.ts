/**
 * Image processing on the worker pool: sizes as displayed, metadata gone from what is served,
 * thumbnails within bounds, avatars square, animations kept, and bad input (a decompression
 * bomb, a truncated file, something that is not an image) answered, not thrown.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { AVATAR_PX, type ImageProcessed, type ProcessImageInput, processImage } from '../../src/files/images.js';
import { WorkerPool } from '../../src/workers/pool.js';
import { claimedPng } from '../support/files.js';

/** The tags of a raw EXIF block's first directory (IFD0). */
function ifd0Tags(exif: Buffer): number[] {
  const tiff = exif.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? exif.subarray(6) : exif;
  const le = tiff.toString('latin1', 0, 2) === 'II';
  const u16 = (at: number) => (le ? tiff.readUInt16LE(at) : tiff.readUInt16BE(at));
  const ifd = le ? tiff.readUInt32LE(4) : tiff.readUInt32BE(4);
  return Array.from({ length: u16(ifd) }, (_, i) => u16(ifd + 2 + i * 12));
}
const GPS_IFD_POINTER = 0x8825;

const picture = (width: number, height: number) => sharp({ create: { width, height, channels: 3, noise: { type: 'gaussian', mean: 128, sigma: 40 }, background: '#000' } });

describe('process-image on the worker pool', () => {
  const pool = new WorkerPool({ threads: 1, maxQueue: 8 });
  let dir = '';
  let out = '';
  const limits = { maxPixels: 50_000_000, thumbnailPx: 480 };
  const stage = async (name: string, bytes: Buffer) => {
    const file = path.join(dir, name);
    await writeFile(file, bytes);
    return file;
  };
  const run = (file: string, mode: ProcessImageInput['mode'] = 'attachment', more: Partial<ProcessImageInput> = {}) => processImage(pool, { path: file, outDir: out, ...limits, mode, ...more });
  const accepted = async (file: string, mode: ProcessImageInput['mode'] = 'attachment'): Promise<ImageProcessed> => {
    const result = await run(file, mode);
    assert.ok(result.ok, JSON.stringify(result));
    return result;
  };
  /** What the process-image task leaves in the output directory for a staged file. */
  const outputsOf = async (file: string) => (await readdir(out)).filter((name) => name.startsWith(`${path.basename(file)}.`));

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'parley-images-'));
    out = path.join(dir, 'out');
    await mkdir(out);
  });
  after(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives the size of a PNG, a JPEG, a WebP and an AVIF, and serves each in its own format', async () => {
    const png = await accepted(await stage('a.png', await picture(300, 200).png().toBuffer()));
    assert.deepEqual([png.format, png.contentType, png.width, png.height, png.frames], ['png', 'image/png', 300, 200, 1]);
    assert.deepEqual([png.served.contentType, png.served.width, png.served.height], ['image/png', 300, 200]);
    assert.equal((await sharp(png.served.path).metadata()).format, 'png');
    assert.equal(png.thumbnail, null, 'no thumbnail for an image smaller than one');

    const jpeg = await accepted(await stage('b.bin', await picture(64, 48).jpeg().toBuffer()));
    assert.deepEqual([jpeg.format, jpeg.contentType, jpeg.width, jpeg.height], ['jpeg', 'image/jpeg', 64, 48]);
    const served = await sharp(jpeg.served.path).metadata();
    assert.deepEqual([served.format, served.width, served.height], ['jpeg', 64, 48]);
    assert.equal(jpeg.served.size, (await readFile(jpeg.served.path)).length);

    for (const [format, bytes] of [
      ['webp', await picture(50, 30).webp().toBuffer()],
      ['avif', await picture(50, 30).avif({ effort: 0 }).toBuffer()],
    ] as const) {
      const result = await accepted(await stage(`c.${format}`, bytes));
      assert.deepEqual([result.format, result.contentType, result.served.contentType, result.width, result.height], [format, `image/${format}`, `image/${format}`, 50, 30]);
      assert.equal((await sharp(result.served.path).metadata()).format, format === 'avif' ? 'heif' : format);
    }
  });

  it('strips EXIF (GPS position included) from the served JPEG', async () => {
    const original = await picture(120, 80)
      .jpeg()
      .withExif({ IFD0: { Make: 'ParleyTestCam', Model: 'Serial 12345' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1', GPSLongitudeRef: 'W', GPSLongitude: '0/1 7/1 0/1' } })
      .toBuffer();
    const before = await sharp(original).metadata();
    assert.ok(before.exif !== undefined, 'the original has EXIF');
    assert.ok(ifd0Tags(before.exif).includes(GPS_IFD_POINTER), 'the original has a GPS directory');
    assert.ok(original.includes('ParleyTestCam'));

    const result = await accepted(await stage('gps.jpg', original));
    const served = await readFile(result.served.path);
    const after = await sharp(served).metadata();
    assert.equal(after.exif, undefined, 'no EXIF served');
    assert.equal(after.xmp, undefined);
    assert.equal(after.iptc, undefined);
    assert.equal(after.icc, undefined, 'no ICC profile: converted to sRGB');
    assert.ok(!served.includes('ParleyTestCam') && !served.includes('Serial 12345'));
  });

  it('applies EXIF orientation: a JPEG taken sideways (6) comes out upright, width and height swapped', async () => {
    const sideways = await picture(40, 20).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    assert.equal((await sharp(sideways).metadata()).orientation, 6);
    const result = await accepted(await stage('sideways.jpg', sideways));
    assert.deepEqual([result.width, result.height, result.served.width, result.served.height], [20, 40, 20, 40]);
    const served = await sharp(result.served.path).metadata();
    assert.deepEqual([served.width, served.height, served.orientation], [20, 40, undefined]);
  });

  it('makes a WebP thumbnail within the bounds, without enlarging', async () => {
    const wide = await accepted(await stage('wide.png', await picture(1200, 800).png().toBuffer()));
    assert.ok(wide.thumbnail !== null);
    assert.deepEqual([wide.thumbnail.width, wide.thumbnail.height, wide.thumbnail.contentType], [480, 320, 'image/webp']);
    const thumb = await sharp(wide.thumbnail.path).metadata();
    assert.deepEqual([thumb.format, thumb.width, thumb.height], ['webp', 480, 320]);
    assert.deepEqual([wide.served.width, wide.served.height], [1200, 800], 'the served image keeps its size');

    const tall = await accepted(await stage('tall.jpg', await picture(300, 900).jpeg().toBuffer()));
    assert.deepEqual([tall.thumbnail?.width, tall.thumbnail?.height], [160, 480]);
  });

  it('refuses a decompression bomb from its header, before decoding it, without the process growing', async () => {
    const bomb = await stage('bomb.png', claimedPng(100_000, 100_000));
    assert.ok((await readFile(bomb)).length < 200, 'a few bytes claiming 10^10 pixels');
    // Warm the pool's thread (and sharp in it) first: its start is not the bomb's cost.
    await accepted(await stage('warm.png', await picture(16, 16).png().toBuffer()));
    const start = process.memoryUsage().rss;
    let peak = start;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 2);
    try {
      const result = await run(bomb);
      assert.equal(result.ok, false);
      assert.equal(result.ok === false && result.reason, 'too_many_pixels', JSON.stringify(result));
      assert.match(result.ok === false ? result.message : '', /10000000000 pixels/, 'refused by the header check, not by a decoder');
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    assert.ok(peak - start < 50 * 1024 * 1024, `RSS grew by ${Math.round((peak - start) / 1024 / 1024)} MB`);
    assert.deepEqual(await outputsOf(bomb), [], 'nothing written');
  });

  it('refuses an image one pixel over the limit, and takes one at it', async () => {
    const small = await stage('limit.png', await picture(100, 100).png().toBuffer());
    const refused = await run(small, 'attachment', { maxPixels: 9_999 });
    assert.equal(refused.ok === false && refused.reason, 'too_many_pixels');
    assert.equal((await run(small, 'attachment', { maxPixels: 10_000 })).ok, true);
  });

  it('answers unreadable for a truncated image, a corrupt one and one that is not an image, leaving nothing behind', async () => {
    const jpeg = await picture(400, 400).jpeg().toBuffer();
    const png = await picture(200, 200).png().toBuffer();
    const corrupt = Buffer.from(png);
    corrupt.fill(0x5a, 100, corrupt.length - 20);
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>');
    const cases: [string, Buffer][] = [
      ['truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2))],
      ['truncated.png', png.subarray(0, Math.floor(png.length / 2))],
      ['corrupt.png', corrupt],
      ['header-only.png', png.subarray(0, 40)],
      ['drawing.svg', svg],
      ['notes.txt', Buffer.from('not an image at all')],
      ['empty.png', Buffer.alloc(0)],
    ];
    for (const [name, bytes] of cases) {
      const file = await stage(name, bytes);
      const result = await run(file);
      assert.equal(result.ok === false && result.reason, 'unreadable', `${name}: ${JSON.stringify(result)}`);
      assert.deepEqual(await outputsOf(file), [], `${name}: nothing written`);
    }
    assert.equal((await run(path.join(dir, 'missing.png'))).ok, false, 'a missing file is an answer too');
  });

  it('makes an avatar: the centre square, 256 px, WebP, no thumbnail', async () => {
    for (const [name, bytes] of [
      ['face.jpg', await picture(900, 600).jpeg().toBuffer()],
      ['tiny.png', await picture(30, 50).png().toBuffer()],
    ] as const) {
      const result = await accepted(await stage(name, bytes), 'avatar');
      assert.deepEqual([result.served.width, result.served.height, result.served.contentType, result.thumbnail], [AVATAR_PX, AVATAR_PX, 'image/webp', null]);
      const served = await sharp(result.served.path).metadata();
      assert.deepEqual([served.format, served.width, served.height], ['webp', 256, 256]);
    }
  });

  it('keeps an animated GIF animated, and thumbnails its first frame', async () => {
    const frames = await Promise.all(['#c00', '#0c0', '#00c'].map((background) => sharp({ create: { width: 600, height: 300, channels: 3, background } }).png().toBuffer()));
    const gif = await sharp(frames, { join: { animated: true } }).gif({ loop: 0, delay: [100, 100, 100] }).toBuffer();
    assert.equal((await sharp(gif).metadata()).pages, 3);
    const result = await accepted(await stage('anim.gif', gif));
    assert.deepEqual([result.format, result.frames, result.width, result.height], ['gif', 3, 600, 300]);
    const served = await sharp(result.served.path).metadata();
    const gifOutput = sharp.format.gif.output.file;
    assert.equal(served.format, gifOutput ? 'gif' : 'webp');
    assert.equal(result.served.contentType, gifOutput ? 'image/gif' : 'image/webp');
    assert.deepEqual([served.pages, served.width, served.pageHeight ?? served.height], [3, 600, 300]);
    assert.deepEqual([result.served.width, result.served.height], [600, 300]);
    assert.ok(result.thumbnail !== null);
    const thumb = await sharp(result.thumbnail.path).metadata();
    assert.deepEqual([thumb.format, thumb.width, thumb.height, thumb.pages ?? 1], ['webp', 480, 240, 1]);

    // Its frames count against the limit: 3 × 600 × 300 = 540,000.
    const refused = await run(path.join(dir, 'anim.gif'), 'attachment', { maxPixels: 539_999 });
    assert.equal(refused.ok === false && refused.reason, 'too_many_pixels');
  });
});
