/**
 * Files: uploads, attachments, avatars, and reading them back.
 *
 * An upload is received onto this node's disk (staging.ts: streamed, capped, never whole in
 * memory), its type decided by its bytes (sniff.ts) against the allow-list, an image re-encoded
 * without its metadata and given a thumbnail in the worker pool (images.ts: never on the event
 * loop, a pixel bomb refused from its header), then put in object storage under its id. Its row
 * in the store is reserved before the first byte is taken, against the user's daily quota, so
 * concurrent uploads cannot pass it together.
 *
 * A file is read only by members of its room, checked on every read whether by session or by
 * signed link; a link names its user, so one who left the room is refused with it too.
 * Uploads never attached, and the files of deleted or purged messages and replaced avatars,
 * are deleted by the files sweep job.
 */
import { mkdirSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { AppError, conflict, forbidden, notFound, rateLimited, unavailable, validationFailed } from '../errors.js';
import type { Access } from '../domain/access.js';
import { newId } from '../domain/ids.js';
import { attachmentOf } from '../domain/stream-rules.js';
import type { AttachmentRecord, UploadKind, UploadRecord } from '../domain/types.js';
import type { ByteRange, JobQueue, ObjectStore, Store } from '../ports.js';
import type { ServerKey } from '../secrets.js';
import type { WorkerPool } from '../workers/pool.js';
import { processImage } from './images.js';
import { contentDisposition, safeFileName } from './names.js';
import { isActiveContent, isSafeInlineImage, SNIFF_BYTES, sniffContentType, typeAllowed } from './sniff.js';
import { cleanStaging, type Staged, stage } from './staging.js';

export const FILES_SWEEP_QUEUE = 'files-sweep';

const DAY_MS = 24 * 3_600_000;
/** Uploads doomed, deleted or forgotten per sweep step: the sweep runs again soon for the rest. */
const SWEEP_BATCH = 500;
/** Staging files untouched this long belong to a process that died mid-upload. */
const STALE_STAGING_MS = 3_600_000;
/** An upload slower than this on average, after its first half minute, is dropped (it holds a slot). */
const MIN_UPLOAD_RATE = { bytesPerSec: 4_096, graceMs: 30_000 };
/** A direct upload's incoming object is deleted this long after its URL expires. */
const INCOMING_GRACE_MS = 60_000;
/** A requested sweep runs at most this often. */
const SOON_WINDOW_MS = 10_000;
/** The thumbnail's object: beside the file's. */
const thumbKeyOf = (objectKey: string): string => `${objectKey}.thumb`;
/** Where a direct upload's client PUTs it, before it is checked and stored under its own key. */
const incomingKeyOf = (id: string): string => `incoming/${id}`;

export interface FilesOptions {
  maxBytes: number;
  maxFilesPerMessage: number;
  /** Bytes per user per 24 hours; 0: no limit. */
  dailyBytes: number;
  /** UPLOAD_TYPES. */
  types: string[];
  /** Uploads this node receives at once. */
  concurrency: number;
  idleTimeoutMs: number;
  unattachedMs: number;
  maxPixels: number;
  thumbnailPx: number;
  /** Signed links' lifetime, and presigned PUTs'. */
  urlTtlS: number;
  stagingDir: string;
  /**
   * False while object storage is known to be down (its breaker open): an upload is refused
   * before its body is read, not after the client has sent all of it.
   */
  storageAvailable?: () => boolean;
}

export type FileVariant = 'file' | 'thumbnail';

/** What a read serves: the object, and the headers that go with it. */
export interface FileToServe {
  key: string;
  size: number;
  contentType: string;
  contentDisposition: string;
  /** Stable for the bytes (an upload's objects never change): the ETag. */
  etag: string;
}

/** An upload the client PUTs to storage itself, then confirms. */
export interface DirectUpload {
  id: string;
  url: string;
  method: 'PUT';
  headers: Record<string, string>;
  expiresAt: string;
}

interface Source {
  /** The bytes, as they arrive. */
  body: Readable;
  /** What the sender said the size is (Content-Length), if it did. */
  declaredSize: number | null;
  signal?: AbortSignal;
}

export class Files {
  readonly #store: Store;
  readonly #objects: ObjectStore;
  readonly #access: Access;
  readonly #pool: () => WorkerPool;
  readonly #key: ServerKey;
  readonly #jobs: JobQueue;
  readonly #options: FilesOptions;
  #receiving = 0;
  #lastSoon = -1;

  constructor(store: Store, objects: ObjectStore, access: Access, pool: () => WorkerPool, key: ServerKey, jobs: JobQueue, options: FilesOptions) {
    this.#store = store;
    this.#objects = objects;
    this.#access = access;
    this.#pool = pool;
    this.#key = key;
    this.#jobs = jobs;
    this.#options = options;
    mkdirSync(options.stagingDir, { recursive: true });
    void cleanStaging(options.stagingDir, STALE_STAGING_MS);
  }

  get options(): Readonly<FilesOptions> {
    return this.#options;
  }

  /** Uploads being received by this node now. */
  get receiving(): number {
    return this.#receiving;
  }

  /** POST /rooms/:roomId/uploads: a member uploads a file to attach to a message of the room. */
  async upload(userId: string, roomId: string, name: string, source: Source): Promise<AttachmentRecord> {
    await this.#access.requireMember(roomId, userId);
    const upload = await this.#receive(userId, { kind: 'attachment', roomId, name }, source);
    return attachmentOf(upload);
  }

  /**
   * Issues a presigned PUT to object storage for a file of `size` bytes (S3 only): the client
   * sends it there, then confirms with `complete`, which checks it as an upload through the
   * server is checked. Its quota is reserved now.
   */
  async presign(userId: string, roomId: string, name: string, size: number): Promise<DirectUpload> {
    await this.#access.requireMember(roomId, userId);
    if (size > this.#options.maxBytes) throw this.#tooLarge();
    const id = newId();
    const record = this.#newRecord(id, userId, { kind: 'attachment', roomId, name }, size, 'direct');
    const url = await this.#objects.presignPut(incomingKeyOf(id), { size, contentType: 'application/octet-stream', expiresInS: this.#options.urlTtlS });
    if (url === null) throw conflict('Direct uploads need object storage that takes presigned uploads (FILE_STORAGE=s3); upload through POST /api/v1/rooms/{roomId}/uploads.');
    // The URL works until it expires, also after a confirmation: whatever is PUT to it is
    // deleted once it cannot be PUT again. Scheduled first: a job backend that is down refuses
    // the upload before any quota is reserved.
    await this.#jobs.enqueue(FILES_SWEEP_QUEUE, { incoming: id }, { key: `incoming:${id}`, delayMs: this.#options.urlTtlS * 1000 + INCOMING_GRACE_MS });
    await this.#reserve(record);
    return {
      id,
      url,
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      expiresAt: new Date(Date.now() + this.#options.urlTtlS * 1000).toISOString(),
    };
  }

  /** Confirms a direct upload: its bytes are fetched from storage, checked and stored as any upload's. */
  async complete(userId: string, id: string, signal?: AbortSignal): Promise<AttachmentRecord> {
    const upload = await this.#store.findUpload(id);
    if (upload === undefined || upload.userId !== userId || upload.kind !== 'attachment') throw notFound('No such upload.');
    if (upload.state !== 'direct') throw conflict('This upload is not waiting to be confirmed.');
    await this.#access.requireMember(upload.roomId as string, userId);
    const incoming = incomingKeyOf(id);
    const stat = await this.#objects.stat(incoming);
    if (stat === undefined) throw conflict('Nothing was uploaded to this upload\'s URL yet: PUT the file there first.');
    // A confirmation stages and checks the file as an upload through the server does: it takes
    // one of this node's upload slots, and waits for no storage known to be down.
    return this.#slot(async () => {
      // Claimed by one confirmation; a second one racing it gets a conflict.
      if (!(await this.#store.updateUpload(id, 'direct', { state: 'receiving' }))) throw conflict('This upload is not waiting to be confirmed.');
      try {
        const object = await this.#objects.get(incoming);
        if (object === undefined) throw conflict('The uploaded file is gone.');
        const result = await this.#ingest(upload, { body: object.body as unknown as Readable, declaredSize: stat.size, ...(signal === undefined ? {} : { signal }) });
        await this.#objects.delete([incoming]).catch(() => {});
        return attachmentOf(result);
      } catch (error) {
        // An outage (the storage, or a full worker pool), or the client gone: the bytes are
        // still where the client put them, so the upload waits to be confirmed again and a retry
        // works. Anything else refuses it for good, its quota given back; the sweep removes the
        // incoming object with the row.
        const retry = (error instanceof AppError && error.code === 'unavailable') || signal?.aborted === true;
        await this.#store.updateUpload(id, 'receiving', retry ? { state: 'direct' } : { state: 'doomed', received: 0 }).catch(() => {});
        throw error;
      }
    });
  }

  /** Deletes an upload of the caller's that no message carries (a cancelled attachment). */
  async discard(userId: string, id: string): Promise<void> {
    const upload = await this.#store.findUpload(id);
    if (upload === undefined || upload.userId !== userId || upload.kind !== 'attachment' || upload.state === 'doomed' || upload.state === 'deleted') throw notFound('No such upload.');
    if (upload.state === 'attached') throw conflict('This upload is attached to a message: delete the message instead.');
    if (!(await this.#store.updateUpload(id, upload.state, { state: 'doomed' }))) throw conflict('This upload changed meanwhile; retry.');
    await this.#soon();
  }

  /**
   * A file (or its thumbnail) for `userId`: attached ones to members of their room, ready ones
   * (not yet sent) to their uploader only. Checked on every read.
   */
  async open(userId: string, id: string, variant: FileVariant): Promise<FileToServe> {
    const upload = await this.#store.findUpload(id);
    const readable = upload !== undefined && upload.kind === 'attachment' && (upload.state === 'attached' || (upload.state === 'ready' && upload.userId === userId));
    if (!readable) throw notFound('No such file.');
    await this.#access.requireMember(upload.roomId as string, userId);
    return this.#serve(upload, variant);
  }

  /** A link to a file that works without a session until it expires, for the user who asked (a member now, and when it is used). */
  async link(userId: string, id: string, variant: FileVariant): Promise<{ url: string; expiresAt: string }> {
    await this.open(userId, id, variant);
    const expires = Math.floor(Date.now() / 1000) + this.#options.urlTtlS;
    const signature = this.#key.sign(linkMessage(id, variant, userId, expires));
    const base = `/api/v1/files/${encodeURIComponent(id)}${variant === 'thumbnail' ? '/thumbnail' : ''}`;
    return { url: `${base}?user=${encodeURIComponent(userId)}&expires=${expires}&signature=${signature}`, expiresAt: new Date(expires * 1000).toISOString() };
  }

  /** The user a signed link was issued to, if the link is valid and unexpired. */
  verifyLink(id: string, variant: FileVariant, link: { user: string; expires: string; signature: string }): string {
    const expires = Number(link.expires);
    if (!Number.isSafeInteger(expires) || !this.#key.verify(linkMessage(id, variant, link.user, expires), link.signature)) throw forbidden('This file link is not valid.');
    if (expires * 1000 < Date.now()) throw forbidden('This file link has expired: ask for a new one.');
    return link.user;
  }

  /** Reads a stored object (all of it, or a range the caller checked against its size). */
  async read(file: FileToServe, range?: ByteRange) {
    const object = await this.#objects.get(file.key, range);
    if (object === undefined) throw notFound('The file is missing from storage.');
    return object;
  }

  // Avatars

  /** Replaces the avatar of the caller, or of a room the caller owns, with an image upload. */
  async setAvatar(userId: string, owner: { userId: string } | { roomId: string }, source: Source): Promise<void> {
    const kind: UploadKind = 'userId' in owner ? 'user_avatar' : 'room_avatar';
    if ('roomId' in owner && (await this.#access.requireMember(owner.roomId, userId)) !== 'owner') throw forbidden('Only the room owner may change its avatar.');
    const upload = await this.#receive(userId, { kind, roomId: 'roomId' in owner ? owner.roomId : null, name: 'avatar.webp' }, source);
    if (!(await this.#store.setAvatar(owner, upload.id))) {
      await this.#store.updateUpload(upload.id, 'ready', { state: 'doomed' });
      throw notFound('roomId' in owner ? 'No such room.' : 'No such user.');
    }
    await this.#soon();
  }

  async removeAvatar(userId: string, owner: { userId: string } | { roomId: string }): Promise<void> {
    if ('roomId' in owner && (await this.#access.requireMember(owner.roomId, userId)) !== 'owner') throw forbidden('Only the room owner may change its avatar.');
    await this.#store.setAvatar(owner, null);
    await this.#soon();
  }

  /** A user's avatar (any signed-in user sees it), or a room's (members, or anyone for a public room). */
  async openAvatar(viewerId: string, owner: { userId: string } | { roomId: string }): Promise<FileToServe> {
    if ('roomId' in owner) await this.#access.requireVisible(owner.roomId, viewerId);
    const upload = await this.#store.avatarOf(owner);
    if (upload === undefined || upload.state !== 'attached') throw notFound('No avatar.');
    return this.#serve(upload, 'file');
  }

  // The sweep

  /**
   * One pass of the files sweep (a job): dooms uploads never attached in time, deletes the
   * objects of doomed ones, forgets deleted ones out of the quota's window. Idempotent: an
   * object already gone is no error, and a pass cut short leaves the rest for the next.
   */
  async sweep(now = Date.now()): Promise<{ doomed: number; deleted: number; forgotten: number }> {
    // An upload still arriving may take as long as its largest size at the slowest rate allowed.
    const longestUploadMs = (this.#options.maxBytes / MIN_UPLOAD_RATE.bytesPerSec) * 1000 + MIN_UPLOAD_RATE.graceMs + 3_600_000;
    const doomed = await this.#store.doomUnattachedUploads(now - this.#options.unattachedMs, now - Math.max(this.#options.unattachedMs, longestUploadMs), SWEEP_BATCH);
    const victims = await this.#store.listDoomedUploads(SWEEP_BATCH);
    if (victims.length > 0) {
      const keys = victims.flatMap((u) => [u.objectKey, incomingKeyOf(u.id), ...(u.thumbKey === null ? [] : [u.thumbKey])]);
      await this.#objects.delete(keys);
      await this.#store.markUploadsDeleted(victims.map((u) => u.id));
    }
    const forgotten = await this.#store.forgetDeletedUploads(now - DAY_MS, SWEEP_BATCH);
    await cleanStaging(this.#options.stagingDir, STALE_STAGING_MS, now);
    if (victims.length === SWEEP_BATCH || doomed === SWEEP_BATCH) await this.#soon();
    return { doomed, deleted: victims.length, forgotten };
  }

  /** A job of the files-sweep queue: a sweep, or `{incoming: id}`, the deletion of a direct upload's incoming object once its URL has expired. */
  async runJob(payload: Record<string, unknown>): Promise<void> {
    if (typeof payload.incoming === 'string') {
      await this.#objects.delete([incomingKeyOf(payload.incoming)]);
      return;
    }
    await this.sweep();
  }

  /**
   * Asks for a sweep soon: files were doomed (a message deleted or purged, an upload discarded,
   * an avatar replaced). Coalesced: one job per ten-second window in the deployment, run at the
   * window's end, so it comes after every request of its window (a request after it falls in
   * the next window, with a job of its own). Never fails: the repeating sweep is the backstop.
   */
  sweepSoon(): void {
    void this.#soon();
  }

  async #soon(): Promise<void> {
    const now = Date.now();
    const window = Math.floor(now / SOON_WINDOW_MS);
    if (window === this.#lastSoon) return;
    this.#lastSoon = window;
    const delayMs = (window + 1) * SOON_WINDOW_MS - now + 500;
    await this.#jobs.enqueue(FILES_SWEEP_QUEUE, {}, { key: `sweep:${window}`, delayMs }).catch(() => {
      // The repeating sweep gets to it within its period.
    });
  }

  // Receiving

  #newRecord(id: string, userId: string, what: { kind: UploadKind; roomId: string | null; name: string }, size: number, state: 'receiving' | 'direct'): UploadRecord {
    const objectKey = what.kind === 'attachment' ? `files/${what.roomId}/${id}` : `avatars/${id}`;
    return {
      id,
      kind: what.kind,
      roomId: what.roomId,
      userId,
      state,
      name: safeFileName(what.name),
      size,
      received: size,
      contentType: 'application/octet-stream',
      width: null,
      height: null,
      objectKey,
      thumbKey: null,
      thumbWidth: null,
      thumbHeight: null,
      messageSeq: null,
      createdAt: Date.now(),
    };
  }

  async #reserve(record: UploadRecord): Promise<void> {
    const { reserved, used } = await this.#store.reserveUpload(record, this.#options.dailyBytes, record.createdAt - DAY_MS);
    if (!reserved) {
      const error = rateLimited(3_600_000);
      throw new AppError('rate_limited', `This upload would pass your daily upload quota (${this.#options.dailyBytes} bytes in 24 hours; ${used} used).`, { ...error.details, dailyBytes: this.#options.dailyBytes, used }, error.retryAfterSeconds);
    }
  }

  /** Runs `work` in one of this node's upload slots, unless storage is known to be down or every slot is taken. */
  async #slot<T>(work: () => Promise<T>): Promise<T> {
    if (this.#options.storageAvailable?.() === false) throw unavailable('File storage is unavailable; retry shortly.', 2);
    if (this.#receiving >= this.#options.concurrency) throw unavailable('This server receives as many uploads as it may; retry shortly.', 2);
    this.#receiving += 1;
    try {
      return await work();
    } finally {
      this.#receiving -= 1;
    }
  }

  async #receive(userId: string, what: { kind: UploadKind; roomId: string | null; name: string }, source: Source): Promise<UploadRecord> {
    if (source.declaredSize !== null && source.declaredSize > this.#options.maxBytes) throw this.#tooLarge();
    return this.#slot(async () => {
      const record = this.#newRecord(newId(), userId, what, source.declaredSize ?? this.#options.maxBytes, 'receiving');
      await this.#reserve(record);
      try {
        return await this.#ingest(record, source);
      } catch (error) {
        // Nothing of it was stored (#ingest cleans up after itself): the reservation goes back.
        // (A row #ingest doomed, its objects left for the sweep, is not deleted.)
        await this.#store.deleteUpload(record.id).catch(() => {});
        throw error;
      }
    });
  }

  /** Stages, checks, processes and stores the bytes of `upload` (state receiving), which becomes ready. */
  async #ingest(upload: UploadRecord, source: Source): Promise<UploadRecord> {
    const staged = await stage(source.body, path.join(this.#options.stagingDir, upload.id), {
      maxBytes: Math.min(this.#options.maxBytes, upload.size),
      tooLarge: () => (upload.size < this.#options.maxBytes && source.declaredSize !== null ? validationFailed(`The upload is longer than the ${upload.size} bytes it announced.`) : this.#tooLarge()),
      headBytes: SNIFF_BYTES,
      idleTimeoutMs: this.#options.idleTimeoutMs,
      minRate: MIN_UPLOAD_RATE,
      ...(source.signal === undefined ? {} : { signal: source.signal }),
    });
    const outputs: string[] = [staged.path];
    const stored: string[] = [];
    try {
      if (source.declaredSize !== null && staged.size !== source.declaredSize) throw validationFailed(`The upload ended after ${staged.size} of the ${source.declaredSize} bytes it announced.`);
      const ready = await this.#check(upload, staged, outputs);
      await this.#objects.put(upload.objectKey, ready.served, { contentType: ready.contentType });
      stored.push(upload.objectKey);
      if (ready.thumbnail !== null) {
        await this.#objects.put(thumbKeyOf(upload.objectKey), ready.thumbnail, { contentType: 'image/webp' });
        stored.push(thumbKeyOf(upload.objectKey));
      }
      const changes = {
        state: 'ready' as const,
        size: ready.served.size,
        // The quota counts what was sent, or what is kept, whichever is more.
        received: Math.max(staged.size, ready.served.size),
        contentType: ready.contentType,
        width: ready.width,
        height: ready.height,
        thumbKey: ready.thumbnail === null ? null : thumbKeyOf(upload.objectKey),
        thumbWidth: ready.thumbnail?.width ?? null,
        thumbHeight: ready.thumbnail?.height ?? null,
      };
      if (!(await this.#store.updateUpload(upload.id, 'receiving', changes))) throw conflict('This upload was abandoned while it was received.');
      return { ...upload, ...changes };
    } catch (error) {
      if (stored.length > 0) {
        const gone = await this.#objects.delete(stored).then(
          () => true,
          () => false,
        );
        // Storage could not delete what it took (an outage): the row is kept, doomed (its quota
        // given back), so the sweep deletes the objects later.
        if (!gone) await this.#store.updateUpload(upload.id, 'receiving', { state: 'doomed', received: 0 }).catch(() => {});
      }
      throw error;
    } finally {
      for (const file of outputs) await rm(file, { force: true, recursive: true });
    }
  }

  /** Decides the type from the bytes, refuses what is not allowed, and makes an image's served copy and thumbnail. */
  async #check(upload: UploadRecord, staged: Staged, outputs: string[]) {
    const contentType = await sniffContentType(staged.head, staged.size <= staged.head.length);
    const avatar = upload.kind !== 'attachment';
    // Markup a browser would run is never stored, whatever the allow-list says (a `text/*` in it).
    const allowed = !isActiveContent(contentType) && (avatar ? isSafeInlineImage(contentType) : typeAllowed(contentType, this.#options.types));
    if (!allowed) {
      throw new AppError('unsupported_media_type', avatar ? `An avatar must be a PNG, JPEG, GIF, WebP or AVIF image; this file is ${contentType}.` : `Files of type ${contentType} may not be uploaded here.`, { contentType });
    }
    const plain = { served: { path: staged.path, size: staged.size }, contentType: contentType === 'text/plain' ? 'text/plain' : contentType, width: null, height: null, thumbnail: null };
    if (!isSafeInlineImage(contentType)) return plain;
    const outDir = path.join(this.#options.stagingDir, `${upload.id}.out`);
    outputs.push(outDir);
    await mkdir(outDir, { recursive: true });
    const result = await processImage(this.#pool(), { path: staged.path, outDir, maxPixels: this.#options.maxPixels, thumbnailPx: this.#options.thumbnailPx, mode: avatar ? 'avatar' : 'attachment' });
    if (!result.ok) {
      if (result.reason === 'too_many_pixels') throw new AppError('payload_too_large', `The image is larger than ${this.#options.maxPixels} pixels.`, { maxPixels: this.#options.maxPixels });
      throw new AppError('unsupported_media_type', `The file looks like ${contentType} but is not a readable image.`, { contentType });
    }
    return {
      served: { path: result.served.path, size: result.served.size },
      contentType: result.served.contentType,
      width: result.width,
      height: result.height,
      thumbnail: result.thumbnail === null ? null : { path: result.thumbnail.path, size: result.thumbnail.size, width: result.thumbnail.width, height: result.thumbnail.height },
    };
  }

  #serve(upload: UploadRecord, variant: FileVariant): FileToServe {
    if (variant === 'thumbnail') {
      if (upload.thumbKey === null) throw notFound('This file has no thumbnail.');
      return { key: upload.thumbKey, size: -1, contentType: 'image/webp', contentDisposition: contentDisposition('inline', `${upload.name}.webp`), etag: `"${upload.id}-t"` };
    }
    const inline = isSafeInlineImage(upload.contentType);
    return {
      key: upload.objectKey,
      size: upload.size,
      contentType: upload.contentType.startsWith('text/') ? `${upload.contentType}; charset=utf-8` : upload.contentType,
      contentDisposition: contentDisposition(inline ? 'inline' : 'attachment', upload.name),
      etag: `"${upload.id}"`,
    };
  }

  #tooLarge(): AppError {
    return new AppError('payload_too_large', `Files may be at most ${this.#options.maxBytes} bytes.`, { maxBytes: this.#options.maxBytes });
  }
}

const linkMessage = (id: string, variant: FileVariant, userId: string, expires: number): string => `file\n${id}\n${variant}\n${userId}\n${expires}`;
