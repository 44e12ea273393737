/**
 * The 'process-image' task (src/workers/tasks.ts): runs in a worker-pool thread, never on the
 * main thread. What it guarantees is described in images.ts; how:
 *
 * 1. The head is sniffed (sniff.ts): anything but PNG, JPEG, GIF, WebP or AVIF is refused
 *    before sharp sees it, so sharp's SVG, PDF, TIFF and other loaders never read an upload.
 * 2. The header is read (metadata(): no pixel is decoded) and the format it declares must be
 *    the sniffed one; width × height × frames over maxPixels is refused. sharp's own
 *    limitInputPixels enforces the same bound on every decode after, as a backstop.
 * 3. The served version is decoded with failOn 'error' (corrupt or truncated data fails, a mere
 *    warning does not), oriented, and encoded without metadata; then the thumbnail, from the
 *    first frame. Any failure removes what was written and answers `unreadable`.
 *
 * Memory: the pool's resourceLimits bound the V8 heap only; sharp's pixels are native memory,
 * bounded by maxPixels (about 4 bytes a pixel, a few buffers at once) per pool thread.
 */
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import sharp, { type OutputInfo } from 'sharp';
import { AVATAR_PX, type ImageFile, type ImageFormat, type ProcessImageInput, type ProcessImageOutput } from './images.js';
import { isSafeInlineImage, SNIFF_BYTES, sniffContentType } from './sniff.js';

if (!isMainThread) {
  // libvips settings are process-wide, and each pool thread sets the same: no operation cache
  // (each upload is read once; a cache would keep decoded pixels alive after the task) and one
  // libvips thread per image (the pool's thread count is the bound on image work).
  sharp.cache(false);
  sharp.concurrency(1);
}

/** The sniffed type of each format we decode, and the name sharp's metadata gives its loader. */
const FORMATS: Record<string, { format: ImageFormat; loader: string; ext: string }> = {
  'image/png': { format: 'png', loader: 'png', ext: 'png' },
  'image/jpeg': { format: 'jpeg', loader: 'jpeg', ext: 'jpg' },
  'image/gif': { format: 'gif', loader: 'gif', ext: 'gif' },
  'image/webp': { format: 'webp', loader: 'webp', ext: 'webp' },
  'image/avif': { format: 'avif', loader: 'heif', ext: 'avif' },
};

class Refusal extends Error {
  constructor(
    readonly reason: 'too_many_pixels' | 'unreadable',
    message: string,
  ) {
    super(message);
  }
}

/** The task itself: never throws, whatever the file holds; on `ok: false` it has written nothing. */
export async function processImageFile(input: ProcessImageInput): Promise<ProcessImageOutput> {
  const written: string[] = [];
  try {
    return await run(input, written);
  } catch (err) {
    await Promise.all(written.map((p) => rm(p, { force: true })));
    if (err instanceof Refusal) return { ok: false, reason: err.reason, message: err.message };
    // libvips's first line says what was wrong; the paths in it are the server's business.
    const message = (err instanceof Error ? err.message : String(err)).split('\n')[0]?.replace(/(?:\/[^\s/]+)+/g, '…') ?? '';
    // The backstop (limitInputPixels) speaks for the check it backs.
    if (/pixel limit/i.test(message)) return { ok: false, reason: 'too_many_pixels', message: `The image has more pixels than allowed (${input.maxPixels}).` };
    return { ok: false, reason: 'unreadable', message: `The image could not be read: ${message}` };
  }
}

async function run(input: ProcessImageInput, written: string[]): Promise<ProcessImageOutput> {
  const contentType = await sniffFile(input.path);
  const known = FORMATS[contentType];
  if (known === undefined || !isSafeInlineImage(contentType)) throw new Refusal('unreadable', `Not a PNG, JPEG, GIF, WebP or AVIF image (${contentType}).`);

  const decode = { failOn: 'error', limitInputPixels: input.maxPixels, autoOrient: true } as const;
  // The header only (no pixel is decoded), read without sharp's limit: it would refuse one
  // frame over it, and the check below counts every frame and says by how much.
  const meta = await sharp(input.path, { ...decode, limitInputPixels: false }).metadata();
  if (meta.format !== known.loader || (known.format === 'avif' && meta.compression !== 'av1')) {
    throw new Refusal('unreadable', `The image's header (${meta.format}) does not match its signature (${contentType}).`);
  }
  // Only GIF and WebP animations are kept; other formats' extra pages (an AVIF sequence) are not read.
  const animated = (known.format === 'gif' || known.format === 'webp') && (meta.pages ?? 1) > 1;
  const frames = animated ? (meta.pages ?? 1) : 1;
  if (!(meta.width > 0 && meta.height > 0)) throw new Refusal('unreadable', 'The image has no pixels.');
  // metadata() gives one frame's size, before orientation. An avatar is made from the first frame only.
  const pixels = meta.width * meta.height * (input.mode === 'avatar' ? 1 : frames);
  if (pixels > input.maxPixels) throw new Refusal('too_many_pixels', `The image has ${pixels} pixels; at most ${input.maxPixels} are allowed.`);
  const width = meta.autoOrient.width;
  const height = meta.autoOrient.height;
  const base = path.join(input.outDir, path.basename(input.path));
  const original = { format: known.format, contentType, width, height, frames };

  if (input.mode === 'avatar') {
    const avatarPath = `${base}.avatar.webp`;
    written.push(avatarPath);
    const info = await sharp(input.path, decode).resize(AVATAR_PX, AVATAR_PX, { fit: 'cover', position: 'centre' }).webp({ quality: 85 }).toFile(avatarPath);
    return { ok: true, ...original, served: file(avatarPath, info, 'image/webp'), thumbnail: null };
  }

  // sharp strips all metadata (EXIF, XMP, IPTC, ICC) unless asked to keep it, converting to sRGB.
  let pipeline = sharp(input.path, { ...decode, animated });
  let servedType = contentType;
  let ext = known.ext;
  switch (known.format) {
    case 'png':
      pipeline = pipeline.png();
      break;
    case 'jpeg':
      pipeline = pipeline.jpeg({ quality: 85 });
      break;
    case 'webp':
      pipeline = pipeline.webp({ quality: 85 });
      break;
    case 'avif':
      pipeline = pipeline.avif();
      break;
    case 'gif':
      // A build of libvips without a GIF writer (cgif) serves GIF as (animated) WebP.
      if (sharp.format.gif.output.file) {
        pipeline = pipeline.gif();
      } else {
        pipeline = pipeline.webp({ quality: 85 });
        servedType = 'image/webp';
        ext = 'webp';
      }
      break;
  }
  const servedPath = `${base}.served.${ext}`;
  written.push(servedPath);
  const served = file(servedPath, await pipeline.toFile(servedPath), servedType);

  let thumbnail: ImageFile | null = null;
  if (width > input.thumbnailPx || height > input.thumbnailPx) {
    const thumbnailPath = `${base}.thumb.webp`;
    written.push(thumbnailPath);
    const info = await sharp(input.path, decode)
      .resize(input.thumbnailPx, input.thumbnailPx, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 80 })
      .toFile(thumbnailPath);
    thumbnail = file(thumbnailPath, info, 'image/webp');
  }
  return { ok: true, ...original, served, thumbnail };
}

/** The content type of a file from its first bytes. */
async function sniffFile(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const head = new Uint8Array(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    const complete = bytesRead < SNIFF_BYTES || (await handle.stat()).size === bytesRead;
    return await sniffContentType(head.subarray(0, bytesRead), complete);
  } finally {
    await handle.close();
  }
}

function file(filePath: string, info: OutputInfo, contentType: string): ImageFile {
  return { path: filePath, size: info.size, contentType, width: info.width, height: info.pageHeight ?? info.height };
}
