/**
 * Image work for attachments and avatars, as the main thread sees it: what to ask for and what
 * comes back. The decoding and encoding run in the worker-thread pool (the 'process-image'
 * task, src/files/image-processing.ts), never on the event loop, one image per pool thread at a
 * time, so a node spends at most its pool's threads on images however many are uploaded.
 *
 * What it guarantees, for an image it accepts:
 * - its bytes are PNG, JPEG, GIF, WebP or AVIF (sniffed, never trusted from a name or a header),
 *   so nothing but a raster decoder ever reads it (no SVG, PDF or TIFF loaders);
 * - its pixel count, from the header, is at most maxPixels (every frame counted for an
 *   animation), checked before any pixel is decoded: a decompression bomb (a few kilobytes
 *   claiming 100000 × 100000) is refused without allocating its pixels;
 * - what is served is re-encoded from the decoded pixels, so nothing but pixels survives from
 *   the upload: no EXIF (GPS position, camera serial), XMP, IPTC or comments, and no bytes
 *   smuggled after the image (a polyglot). Colours are converted to sRGB and no ICC profile is
 *   kept (browsers take an untagged image as sRGB: it shows as it did). EXIF orientation is
 *   applied to the pixels first, so the image shows upright without it.
 * - bad input is an answer (`ok: false`), never a thrown error.
 */
// The main thread holds libvips loaded: on glibc, a shared library loaded only by worker threads
// is unloaded when the last of them exits, and loading it again in a later thread can crash the
// process (sharp's documentation, "worker threads"). The pool's threads come and go (idle timeout).
import 'sharp';
import type { WorkerPool } from '../workers/pool.js';

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'webp' | 'avif';

export interface ProcessImageInput {
  /** The staged upload, on a disk the pool's threads can read. */
  path: string;
  /** Where the served version (and the thumbnail) are written, named after `path`'s file name. */
  outDir: string;
  /** IMAGE_MAX_PIXELS: width × height × frames, from the header. */
  maxPixels: number;
  /** IMAGE_THUMBNAIL_PX: the thumbnail fits in a square this size. */
  thumbnailPx: number;
  /**
   * attachment: served in its own format (an animation stays one), with a WebP thumbnail when it
   * is larger than the thumbnail. avatar: the centre square, AVATAR_PX wide, as WebP (the first
   * frame of an animation), no thumbnail.
   */
  mode: 'attachment' | 'avatar';
}

export interface ImageFile {
  path: string;
  /** Bytes. */
  size: number;
  contentType: string;
  /** Pixels, as displayed; a frame's size for an animation. */
  width: number;
  height: number;
}

export interface ImageProcessed {
  ok: true;
  /** The upload's format, and its type (as sniffed). */
  format: ImageFormat;
  contentType: string;
  /** The upload's size as displayed (EXIF orientation applied); a frame's size for an animation. */
  width: number;
  height: number;
  /** Frames: 1 but for an animated GIF or WebP. */
  frames: number;
  /** The version to serve: metadata stripped. */
  served: ImageFile;
  /** A WebP no larger than thumbnailPx on either side; null when the served image is no larger (show that). */
  thumbnail: ImageFile | null;
}

export interface ImageRefused {
  ok: false;
  /** too_many_pixels: over maxPixels (413). unreadable: not one of the formats, corrupt or truncated (415/422). */
  reason: 'too_many_pixels' | 'unreadable';
  message: string;
}

export type ProcessImageOutput = ImageProcessed | ImageRefused;

/** The side of an avatar, pixels. */
export const AVATAR_PX = 256;

/**
 * Processes an image on the worker pool. Rejects only for the pool itself (busy or closing:
 * `unavailable`; aborted by `signal`, which ends the thread mid-image); a bad image resolves
 * with `ok: false` and leaves no output behind. After a rejection an output may be left half
 * written: `outDir` (which must exist) is the caller's staging area to clear.
 */
export function processImage(pool: WorkerPool, input: ProcessImageInput, signal?: AbortSignal): Promise<ProcessImageOutput> {
  return pool.run('process-image', input, signal);
}
