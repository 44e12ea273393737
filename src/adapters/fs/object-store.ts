/**
 * The ObjectStore port on the local filesystem (FILE_STORAGE=fs): the object of key `a/b.png` is
 * the file `<root>/a/b.png`. One node, or a directory every node of a fleet mounts.
 *
 * Why each file starts with a small header: an object is its bytes *and* its content type, and
 * `put` must replace both at once. A sidecar file (`b.png.meta.json`) would take a second rename,
 * and a reader between the two would see the new bytes with the old type (or a crash would leave
 * them mismatched for good). So the content type is written in front of the bytes, in the same
 * file, and one rename replaces both. The header is `PRLYOBJ1`, a 16-bit big-endian length, then
 * that many bytes of JSON (`{"contentType":"..."}`); sizes and ranges are of the bytes after it.
 * The files are therefore not raw copies of the uploads: serve them through this adapter, never
 * straight from the directory.
 *
 * Atomic and durable: `put` copies the source into a temporary sibling (`.<name>.<random>.partial`,
 * in the same directory, so on the same filesystem), fsyncs it, renames it over the object and
 * fsyncs the directory. A reader that opened the old file goes on reading the old bytes; a crash
 * mid-put leaves at most a `.partial` file behind (never a part of an object under its key).
 * The caller keeps its source file: `put` copies it, never moves it. The body of a `get` holds
 * its file open until it is read to the end or destroyed: a caller that stops reading destroys it.
 *
 * Outages: the disk full, an I/O error, a read-only or unreachable (NFS) mount, no file handles
 * left, no permission: AppError `unavailable`. A missing object is undefined; a missing source
 * file or a key naming a directory is a plain Error (a bug).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, type FileHandle, mkdir, open, rename, stat as statPath, unlink } from 'node:fs/promises';
import path from 'node:path';
import { unavailable } from '../../errors.js';
import type { ByteRange, ObjectStore, StoredObject } from '../../ports.js';
import { assertObjectKey } from '../object-key.js';
import { syncDirectory } from './durable.js';

const MAGIC = Buffer.from('PRLYOBJ1', 'ascii');
/** Magic and the 16-bit length of the JSON that follows. */
const FIXED = MAGIC.length + 2;
/** Longest content type stored, characters (what fits a header line with room to spare). */
const MAX_CONTENT_TYPE = 1024;
/** Bytes copied per read of the source: memory per put is this, whatever the file's size. */
const COPY_CHUNK = 256 * 1024;

/** errno codes that mean the storage cannot serve now, not that the call was wrong. */
const OUTAGE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EMFILE', 'ENFILE', 'EACCES', 'EPERM', 'ESTALE', 'ETIMEDOUT', 'EAGAIN', 'EBUSY', 'ENOTCONN', 'EHOSTDOWN', 'ENOMEM']);
/** A path that is not there, or not a file there (a segment of it is a file). */
const MISSING_CODES = new Set(['ENOENT', 'ENOTDIR']);

const codeOf = (error: unknown): string | undefined => (error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined);

/** An outage as AppError `unavailable` (the errno error as its cause); anything else as it is. */
function translate(error: unknown, what: string): unknown {
  const code = codeOf(error);
  if (code === undefined || !OUTAGE_CODES.has(code)) return error;
  const failed = unavailable(`File storage is unavailable (${code} on ${what}); retry shortly.`);
  failed.cause = error;
  return failed;
}

function header(contentType: string): Buffer {
  const json = Buffer.from(JSON.stringify({ contentType }), 'utf8');
  const fixed = Buffer.alloc(FIXED);
  MAGIC.copy(fixed);
  fixed.writeUInt16BE(json.length, MAGIC.length);
  return Buffer.concat([fixed, json]);
}

/** The header of an open object file: its length and the content type it holds. */
async function readHeader(handle: FileHandle, file: string): Promise<{ length: number; contentType: string }> {
  const fixed = Buffer.alloc(FIXED);
  const { bytesRead } = await handle.read(fixed, 0, FIXED, 0);
  if (bytesRead < FIXED || !fixed.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error(`${file} is not an object file of this store (no header)`);
  const size = fixed.readUInt16BE(MAGIC.length);
  const json = Buffer.alloc(size);
  const read = await handle.read(json, 0, size, FIXED);
  if (read.bytesRead < size) throw new Error(`${file} has a truncated header`);
  const parsed = JSON.parse(json.toString('utf8')) as { contentType?: unknown };
  if (typeof parsed.contentType !== 'string') throw new Error(`${file} has a header without a content type`);
  return { length: FIXED + size, contentType: parsed.contentType };
}

export interface FsObjectStoreOptions {
  /** The directory of the objects (FILES_DIR), created if missing. */
  root: string;
}

/** See the module comment. */
export class FsObjectStore implements ObjectStore {
  readonly kind = 'fs' as const;
  readonly #root: string;

  constructor(options: FsObjectStoreOptions) {
    this.#root = path.resolve(options.root);
  }

  /** The directory of the objects, absolute. */
  get root(): string {
    return this.#root;
  }

  /** Always one part: a file is copied in chunks of 256 KiB, never held whole. */
  async put(key: string, source: { path: string; size: number }, options: { contentType: string }): Promise<{ parts: number }> {
    const file = this.#file(key);
    if (options.contentType.length > MAX_CONTENT_TYPE) throw new Error(`content type longer than ${MAX_CONTENT_TYPE} characters`);
    const dir = path.dirname(file);
    const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.partial`);
    try {
      await mkdir(dir, { recursive: true });
      await this.#copy(source, temp, header(options.contentType));
      await rename(temp, file);
      await syncDirectory(dir);
      return { parts: 1 };
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw translate(error, `put ${key}`);
    }
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject | undefined> {
    const opened = await this.#open(key, 'get');
    if (opened === undefined) return undefined;
    const { handle, offset, size, contentType } = opened;
    // The open handle keeps this version of the object whatever a put does meanwhile; the stream closes it.
    const body = handle.createReadStream(range === undefined ? { start: offset, autoClose: true } : { start: offset + range.start, end: offset + range.end, autoClose: true });
    return { body, size, range: range === undefined ? null : { start: range.start, end: range.end }, contentType };
  }

  async stat(key: string): Promise<{ size: number; contentType: string } | undefined> {
    const opened = await this.#open(key, 'stat');
    if (opened === undefined) return undefined;
    await opened.handle.close().catch(() => undefined);
    return { size: opened.size, contentType: opened.contentType };
  }

  /**
   * The object's file, open, with where its bytes start (after the header), their size and
   * type; undefined when there is no such object. The caller closes the handle.
   */
  async #open(key: string, op: 'get' | 'stat'): Promise<{ handle: FileHandle; offset: number; size: number; contentType: string } | undefined> {
    const file = this.#file(key);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if (MISSING_CODES.has(codeOf(error) ?? '')) return undefined;
      throw translate(error, `${op} ${key}`);
    }
    try {
      const { length, contentType } = await readHeader(handle, file);
      return { handle, offset: length, size: (await handle.stat()).size - length, contentType };
    } catch (error) {
      await handle.close().catch(() => undefined);
      if (codeOf(error) === 'EISDIR') throw new Error(`object key ${key} names a directory`);
      throw translate(error, `${op} ${key}`);
    }
  }

  /** Unlinks each file (empty directories are left: a later put may use them again). */
  async delete(keys: string[]): Promise<void> {
    const files = keys.map((key) => this.#file(key));
    for (const file of files) {
      try {
        await unlink(file);
      } catch (error) {
        if (!MISSING_CODES.has(codeOf(error) ?? '')) throw translate(error, `delete ${path.relative(this.#root, file)}`);
      }
    }
  }

  /** Null: uploads to the filesystem go through the server. */
  async presignPut(key: string, _options: { size: number; contentType: string; expiresInS: number }): Promise<string | null> {
    assertObjectKey(key);
    return null;
  }

  /** Null: downloads from the filesystem go through the server. */
  async presignGet(key: string, _options: { expiresInS: number; contentType: string; contentDisposition: string }): Promise<string | null> {
    assertObjectKey(key);
    return null;
  }

  /** The root directory exists (created at the first ping) and this process may write in it. */
  async ping(): Promise<void> {
    try {
      await mkdir(this.#root, { recursive: true });
      if (!(await statPath(this.#root)).isDirectory()) throw new Error(`${this.#root} is not a directory`);
      await access(this.#root, constants.W_OK);
    } catch (error) {
      throw translate(error, 'ping');
    }
  }

  /** Nothing to release: every call opens and closes its own files. */
  async close(): Promise<void> {}

  /** The object file of `key`, which cannot be outside the root once the key is valid. */
  #file(key: string): string {
    assertObjectKey(key);
    return path.join(this.#root, ...key.split('/'));
  }

  /** Writes `head` and then the source's bytes into a new file at `temp`, and syncs it. */
  async #copy(source: { path: string; size: number }, temp: string, head: Buffer): Promise<void> {
    const input = await open(source.path, 'r');
    try {
      const output = await open(temp, 'wx');
      try {
        await output.write(head, 0, head.length, 0);
        const buffer = Buffer.allocUnsafe(COPY_CHUNK);
        let copied = 0;
        for (;;) {
          const { bytesRead } = await input.read(buffer, 0, COPY_CHUNK, copied);
          if (bytesRead === 0) break;
          await output.write(buffer, 0, bytesRead, head.length + copied);
          copied += bytesRead;
        }
        if (copied !== source.size) throw new Error(`source ${source.path} has ${copied} bytes, not the ${source.size} announced`);
        await output.sync();
      } finally {
        await output.close();
      }
    } finally {
      await input.close();
    }
  }
}
