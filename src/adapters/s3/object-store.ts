/**
 * The ObjectStore port on an S3-compatible bucket (FILE_STORAGE=s3): AWS S3, MinIO, Ceph, R2...
 * The object of key `a/b.png` is the object `a/b.png` of the bucket, with its content type.
 *
 * Memory is bounded whatever the file's size: a file up to the part size goes up in one PutObject
 * streamed from disk; a larger one as a multipart upload whose parts are streamed from disk one
 * after the other (never two parts at once). S3 makes each PutObject and CompleteMultipartUpload
 * atomic: readers see the old object or the whole new one.
 *
 * Deadlines (S3_TIMEOUT_MS): to connect, and how long a request may go without a byte moving
 * either way (the socket's idle timeout). Not a deadline on the whole request: a part of 16 MiB on
 * a slow link may take longer than that and still be progressing.
 *
 * Retries: a call is tried at most twice (`attempts`). The SDK retries calls without a body by
 * itself; a body read from a stream cannot be replayed by the SDK, so uploads (PutObject,
 * UploadPart) are sent with the SDK's retries off and retried here with a fresh stream of the file.
 *
 * Outages (no connection, a timeout, a reset, a 5xx, throttling) reject with AppError
 * `unavailable`, the SDK's error as its cause. Any other 4xx (access denied, a bad bucket, an
 * invalid range) is a plain Error: a misconfiguration or a bug. A missing object is undefined.
 * A `get` resolves once the object's headers are in: an outage while its body streams (the idle
 * timeout included) errors that stream, with the SDK's error.
 *
 * Checksums: the SDK's flexible checksums are asked only where S3 requires them
 * (`WHEN_REQUIRED`). Computing them on every upload would read streamed bodies twice or send them
 * aws-chunked (which several S3-compatible servers store verbatim), and would put a checksum of
 * an empty body into presigned PUT URLs.
 */
import { createReadStream } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AppError, unavailable } from '../../errors.js';
import type { ByteRange, ObjectStore, StoredObject } from '../../ports.js';
import { assertObjectKey } from '../object-key.js';

const MIB = 1024 * 1024;
/** S3's least part size (all parts but the last). */
export const MIN_PART_SIZE = 5 * MIB;
/** S3's most parts in one multipart upload. */
const MAX_PARTS = 10_000;
/** S3's most keys in one DeleteObjects. */
const DELETE_BATCH = 1000;

export interface S3ObjectStoreOptions {
  bucket: string;
  /** The endpoint URL; undefined for AWS S3 of `region`. */
  endpoint?: string | undefined;
  region: string;
  /** Both or neither; neither: the SDK's default credential chain (environment, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** Address the bucket in the path (http://host/bucket/key) rather than in the host name. */
  forcePathStyle: boolean;
  /** Files larger than this go up in parts of this size, bytes; at least 5 MiB. */
  partSize: number;
  /** Deadline to connect and most time a request may go without progress, ms. */
  timeoutMs: number;
  /** Tries per call, the first included (default 2). */
  attempts?: number;
  /** Sockets open to the endpoint at most (default 64); calls past it queue for a socket. */
  maxSockets?: number;
}

/** errno codes of a connection that could not be made or broke. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'ECONNABORTED', 'ESOCKETTIMEDOUT', 'UND_ERR_SOCKET']);
/** Error names S3 answers when it wants the caller to slow down or try again. */
const THROTTLING = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'RequestThrottled', 'TooManyRequestsException', 'RequestTimeout', 'ServiceUnavailable', 'InternalError']);

const statusOf = (error: unknown): number | undefined =>
  typeof error === 'object' && error !== null && '$metadata' in error ? (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode : undefined;

/** True for an error that means the storage could not answer now (worth a retry, or a 503). */
function isS3Outage(error: unknown): boolean {
  if (error instanceof AppError) return error.code === 'unavailable';
  if (!(error instanceof Error)) return false;
  const status = statusOf(error);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (THROTTLING.has(error.name)) return true;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return true;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  // A response cut short, or not S3's (a proxy's HTML page): the SDK fails to read it.
  if (status === undefined && error instanceof S3ServiceException) return true;
  return error.message === 'socket hang up';
}

const isNotFound = (error: unknown): boolean =>
  error instanceof Error && (error.name === 'NoSuchKey' || error.name === 'NotFound' || (statusOf(error) === 404 && error.name !== 'NoSuchBucket'));

/** An outage as `unavailable` (the SDK's error its cause); any other error as a plain Error. */
function translate(error: unknown, what: string): Error {
  if (error instanceof AppError) return error;
  if (isS3Outage(error)) {
    const name = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const failed = unavailable(`File storage is unavailable (${what}: ${name}); retry shortly.`);
    failed.cause = error;
    return failed;
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new Error(`S3 ${what} failed: ${message}`, { cause: error });
}

/** `length` bytes of `body` after its first `skip`; the rest of `body` is not read (it is destroyed). */
function slice(body: Readable & AsyncIterable<Uint8Array>, skip: number, length: number): Readable & AsyncIterable<Uint8Array> {
  async function* cut(): AsyncGenerator<Uint8Array> {
    let at = 0;
    const end = skip + length;
    try {
      for await (const chunk of body) {
        const from = Math.max(0, skip - at);
        const to = Math.min(chunk.length, end - at);
        at += chunk.length;
        if (to > from) yield chunk.subarray(from, to);
        if (at >= end) return;
      }
    } finally {
      body.destroy();
    }
  }
  return Readable.from(cut(), { objectMode: false });
}

/** The SDK's own console output silenced: its errors reach callers (translated), and logs are ours. */
const QUIET = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** See the module comment. */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly #bucket: string;
  readonly #partSize: number;
  readonly #attempts: number;
  /** Every call but uploads: the SDK retries them itself. */
  readonly #client: S3Client;
  /** Uploads of a streamed body: the SDK's retries off (retried here with a fresh stream). */
  readonly #uploads: S3Client;
  #closed: Promise<void> | undefined;

  constructor(options: S3ObjectStoreOptions) {
    if (options.partSize < MIN_PART_SIZE) throw new Error(`part size ${options.partSize} is under S3's least, 5 MiB`);
    this.#bucket = options.bucket;
    this.#partSize = options.partSize;
    this.#attempts = options.attempts ?? 2;
    const agent = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
    const base: S3ClientConfig = {
      region: options.region,
      logger: QUIET,
      forcePathStyle: options.forcePathStyle,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: options.timeoutMs,
        socketTimeout: options.timeoutMs,
        httpAgent: new HttpAgent(agent),
        httpsAgent: new HttpsAgent(agent),
      },
    };
    if (options.endpoint !== undefined && options.endpoint !== '') base.endpoint = options.endpoint;
    if (options.credentials !== undefined) base.credentials = options.credentials;
    this.#client = new S3Client({ ...base, maxAttempts: this.#attempts });
    // The same handler (and so the same sockets and the same bound on them).
    this.#uploads = new S3Client({ ...base, maxAttempts: 1, requestHandler: this.#client.config.requestHandler });
  }

  /** The part size, bytes: files larger than this go up in several parts. */
  get partSize(): number {
    return this.#partSize;
  }

  async put(key: string, source: { path: string; size: number }, options: { contentType: string }): Promise<{ parts: number }> {
    assertObjectKey(key);
    const { size } = source;
    if (size <= this.#partSize) {
      await this.#upload(
        `put ${key}`,
        // An empty stream and a length of 0 confuse some servers: an empty body is plain.
        () => (size === 0 ? new Uint8Array(0) : createReadStream(source.path)),
        (body) => this.#uploads.send(new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: body, ContentLength: size, ContentType: options.contentType })),
      );
      return { parts: 1 };
    }
    // Parts grow past the part size only for files over 10 000 parts (S3's limit).
    const partSize = Math.max(this.#partSize, Math.ceil(size / MAX_PARTS / MIB) * MIB);
    const parts = Math.ceil(size / partSize);
    const created = await this.#call(`create multipart ${key}`, () =>
      this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key: key, ContentType: options.contentType })),
    );
    const uploadId = created.UploadId;
    if (uploadId === undefined) throw new Error(`S3 create multipart ${key} answered no upload id`);
    try {
      const done: Array<{ ETag: string; PartNumber: number }> = [];
      for (let n = 1; n <= parts; n++) {
        const start = (n - 1) * partSize;
        const end = Math.min(size, start + partSize) - 1;
        const answer = await this.#upload(
          `upload part ${n} of ${key}`,
          () => createReadStream(source.path, { start, end }),
          (body) => this.#uploads.send(new UploadPartCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: body, ContentLength: end - start + 1 })),
        );
        if (answer.ETag === undefined) throw new Error(`S3 upload part ${n} of ${key} answered no ETag`);
        done.push({ ETag: answer.ETag, PartNumber: n });
      }
      await this.#call(`complete multipart ${key}`, () =>
        this.#client.send(new CompleteMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: done } })),
      );
      return { parts };
    } catch (error) {
      // Best effort: parts left behind cost storage until the bucket's lifecycle rule (if any)
      // aborts incomplete uploads; the caller's error is the upload's, not the abort's.
      await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
      throw error;
    }
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject | undefined> {
    assertObjectKey(key);
    let answer: GetObjectCommandOutput;
    try {
      answer = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: key, ...(range === undefined ? {} : { Range: `bytes=${range.start}-${range.end}` }) }),
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw translate(error, `get ${key}`);
    }
    const body = answer.Body as (Readable & AsyncIterable<Uint8Array>) | undefined;
    if (body === undefined) throw new Error(`S3 get ${key} answered no body`);
    const contentType = answer.ContentType ?? 'application/octet-stream';
    if (range === undefined) return { body, size: answer.ContentLength ?? 0, range: null, contentType };
    // "bytes 0-9/100": the range sent and the whole object's size. None: the whole object.
    const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(answer.ContentRange ?? '');
    const size = match === null ? (answer.ContentLength ?? 0) : Number(match[3]);
    const sent = match === null ? { start: 0, end: size - 1 } : { start: Number(match[1]), end: Number(match[2]) };
    if (sent.start === range.start && sent.end === range.end) return { body, size, range: { start: range.start, end: range.end }, contentType };
    // Some S3-compatible servers answer more than asked (s3rver reads `bytes=0-0` as `bytes=0-`,
    // others ignore Range): cut what was asked out of it, or refuse an answer that lacks it.
    if (sent.start > range.start || sent.end < range.end) {
      body.destroy();
      throw new Error(`S3 get ${key} asked bytes ${range.start}-${range.end} and got ${sent.start}-${sent.end} of ${size}`);
    }
    return { body: slice(body, range.start - sent.start, range.end - range.start + 1), size, range: { start: range.start, end: range.end }, contentType };
  }

  async stat(key: string): Promise<{ size: number; contentType: string } | undefined> {
    assertObjectKey(key);
    try {
      const answer = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return { size: answer.ContentLength ?? 0, contentType: answer.ContentType ?? 'application/octet-stream' };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw translate(error, `stat ${key}`);
    }
  }

  /** In batches of 1000 keys (S3's most per DeleteObjects), one after the other. */
  async delete(keys: string[]): Promise<void> {
    for (const key of keys) assertObjectKey(key);
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const answer = await this.#call(`delete ${batch.length} objects`, () =>
        this.#client.send(new DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })),
      );
      // A key with no object is no error in S3: what comes back failed for another reason.
      const failed = answer.Errors ?? [];
      if (failed.length > 0) {
        const first = failed[0];
        const error = Object.assign(new Error(`${first?.Code ?? 'Error'}: ${first?.Message ?? ''} (${failed.length} of ${batch.length} keys, ${first?.Key ?? ''} first)`), {
          name: first?.Code ?? 'Error',
        });
        throw translate(error, 'delete');
      }
    }
  }

  /** Content-Length and Content-Type are signed: S3 refuses a PUT with any other. */
  async presignPut(key: string, options: { size: number; contentType: string; expiresInS: number }): Promise<string | null> {
    assertObjectKey(key);
    const command = new PutObjectCommand({ Bucket: this.#bucket, Key: key, ContentLength: options.size, ContentType: options.contentType });
    return this.#presign(`presign put ${key}`, command, options.expiresInS, ['content-length', 'content-type']);
  }

  async presignGet(key: string, options: { expiresInS: number; contentType: string; contentDisposition: string }): Promise<string | null> {
    assertObjectKey(key);
    const command = new GetObjectCommand({
      Bucket: this.#bucket,
      Key: key,
      ResponseContentType: options.contentType,
      ResponseContentDisposition: options.contentDisposition,
    });
    return this.#presign(`presign get ${key}`, command, options.expiresInS, []);
  }

  /** HeadBucket: the bucket is there and these credentials reach it. */
  async ping(): Promise<void> {
    await this.#call('ping', () => this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket })));
  }

  /** Closes the sockets (calls in flight fail). Idempotent. */
  close(): Promise<void> {
    this.#closed ??= Promise.resolve().then(() => {
      this.#uploads.destroy();
      this.#client.destroy();
    });
    return this.#closed;
  }

  async #presign(what: string, command: PutObjectCommand | GetObjectCommand, expiresInS: number, signed: string[]): Promise<string> {
    try {
      // Signing is local; the credentials may need a round trip the first time (an instance role).
      return await getSignedUrl(this.#client, command, { expiresIn: expiresInS, signableHeaders: new Set(signed) });
    } catch (error) {
      throw translate(error, what);
    }
  }

  /** A call without a streamed body (the SDK retries it itself), its errors translated. */
  async #call<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw translate(error, what);
    }
  }

  /**
   * An upload made by `call` with a body `open` makes afresh for each attempt (a stream of the
   * file, read from its start), tried up to `attempts` times on an outage.
   *
   * Each attempt's stream is destroyed once the attempt is over, and its errors are listened to.
   * The SDK pipes the body into the request and, when the request fails before reading it (no
   * connection, a reset), leaves the stream as it is: left alone, a stream never read keeps its
   * file open for good (a descriptor lost per failed attempt), and one whose open is still pending
   * when the caller removes the file (its upload failed) emits ENOENT with no listener: an
   * uncaught exception, which ends the process. Both happened under upload traffic while the
   * storage was down.
   */
  async #upload<T>(what: string, open: () => Readable | Uint8Array, call: (body: Readable | Uint8Array) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const body = open();
      // A read error of a body being sent surfaces as the request's failure (it stalls, then times out).
      if (body instanceof Readable) body.on('error', () => undefined);
      try {
        return await call(body);
      } catch (error) {
        if (attempt >= this.#attempts || !isS3Outage(error)) throw translate(error, what);
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      } finally {
        // Sent whole: already closed, a no-op. Otherwise its descriptor is closed (once opened).
        if (body instanceof Readable) body.destroy();
      }
    }
  }
}
