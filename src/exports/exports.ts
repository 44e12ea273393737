/**
 * History exports: a member asks for a room's history as NDJSON or a readable HTML page; a job
 * writes it to a file, a page at a time (read from the store, rendered in the worker-thread
 * pool, written with backpressure), so neither the history nor the file is ever held in
 * memory. The member's connections get `job` events as it goes; once done, the export carries a
 * download link signed with the server key that works without credentials until it expires.
 *
 * The job is idempotent: a run that starts again (its worker died, or it failed) starts the
 * file again from the beginning; the file is moved into place only once complete.
 */
import { once } from 'node:events';
import { createWriteStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { forbidden, notFound, validationFailed } from '../errors.js';
import type { Access } from '../domain/access.js';
import { newId } from '../domain/ids.js';
import type { Publisher } from '../domain/publisher.js';
import type { ExportFormat, ExportRecord } from '../domain/types.js';
import { PermanentJobError } from '../jobs/errors.js';
import type { Job, JobQueue, Store } from '../ports.js';
import type { Export } from '../protocol/wire.js';
import type { ServerKey } from '../secrets.js';
import type { WorkerPool } from '../workers/pool.js';
import { renderHead, renderTail } from './render.js';

export const EXPORT_QUEUE = 'export';
export const EXPORT_SWEEP_QUEUE = 'export-sweep';
const FORMATS: readonly ExportFormat[] = ['ndjson', 'html'];
const CONTENT_TYPES: Record<ExportFormat, string> = { ndjson: 'application/x-ndjson; charset=utf-8', html: 'text/html; charset=utf-8' };
/** How often a running export tells its progress (store row and `job` event), ms. */
const PROGRESS_EVERY_MS = 1_000;
const SWEEP_BATCH = 100;
/** An export still queued or running this long after it was asked for is given up as failed. */
const STALE_AFTER_MS = 3_600_000;

export interface ExportsOptions {
  dir: string;
  ttlMs: number;
  pageSize: number;
  /** The public base of download links ('' for relative links). */
  baseUrl?: string;
  now?: () => number;
}

export interface ExportDownload {
  file: string;
  size: number;
  filename: string;
  contentType: string;
}

export class Exports {
  readonly #store: Store;
  readonly #access: Access;
  readonly #jobs: JobQueue;
  readonly #pool: () => WorkerPool;
  readonly #publisher: Publisher;
  readonly #key: ServerKey;
  readonly #options: ExportsOptions;
  readonly #now: () => number;

  constructor(store: Store, access: Access, jobs: JobQueue, pool: () => WorkerPool, publisher: Publisher, key: ServerKey, options: ExportsOptions) {
    this.#store = store;
    this.#access = access;
    this.#jobs = jobs;
    this.#pool = pool;
    this.#publisher = publisher;
    this.#key = key;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Asks for an export of the room (members only). While one of the user's is queued or running, answers it instead. */
  async request(userId: string, roomId: string, format: string): Promise<Export> {
    if (!FORMATS.includes(format as ExportFormat)) throw validationFailed(`format must be one of ${FORMATS.join(', ')}.`);
    await this.#access.requireMember(roomId, userId);
    const active = await this.#store.findActiveExport(roomId, userId);
    if (active !== undefined) {
      if (this.#now() - active.createdAt < STALE_AFTER_MS) return this.view(active);
      // Its job died with no one to say so (its worker killed on its last attempt): it never
      // finishes, and must not keep its owner from exporting the room.
      await this.#finish(active, { state: 'failed', error: 'The export did not finish; ask for it again.' });
    }
    const room = await this.#access.room(roomId);
    const record: ExportRecord = {
      id: newId(),
      roomId,
      userId,
      format: format as ExportFormat,
      state: 'queued',
      throughSeq: room.lastSeq,
      doneSeq: 0,
      messages: 0,
      bytes: 0,
      error: null,
      createdAt: this.#now(),
      finishedAt: null,
      expiresAt: null,
    };
    await this.#store.createExport(record);
    try {
      await this.#jobs.enqueue(EXPORT_QUEUE, { exportId: record.id }, { key: `export:${record.id}`, attempts: 3, backoff: { baseMs: 5_000, maxMs: 60_000 } });
    } catch (error) {
      // No job behind it: it is failed at once, so it is not answered as running for ever.
      await this.#finish(record, { state: 'failed', error: 'The export could not be started; ask for it again.' }).catch(() => undefined);
      throw error;
    }
    return this.view(record);
  }

  /** The user's own export. */
  async get(userId: string, id: string): Promise<Export> {
    const record = await this.#store.findExport(id);
    if (record === undefined || record.userId !== userId) throw notFound('No such export.');
    return this.view(record);
  }

  /**
   * The file of a done export for a signed link. The link's signature and expiry are checked,
   * and its owner must still be a member of the room: one who left loses the link.
   */
  async download(id: string, expires: string, signature: string): Promise<ExportDownload> {
    const expiresAt = Number(expires);
    if (!Number.isSafeInteger(expiresAt) || !this.#key.verify(linkMessage(id, expiresAt), signature)) throw forbidden('This download link is not valid.');
    if (expiresAt < this.#now()) throw forbidden('This download link has expired.');
    const record = await this.#store.findExport(id);
    if (record === undefined || record.state !== 'done') throw notFound('No such export.');
    const membership = await this.#store.membership(record.roomId, record.userId);
    if (membership.role === null) throw forbidden('This export is no longer available to you.');
    const file = this.#file(record);
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      throw notFound('No such export.');
    }
    return { file, size, filename: `parley-${record.roomId}-${record.id}.${record.format === 'html' ? 'html' : 'ndjson'}`, contentType: CONTENT_TYPES[record.format] };
  }

  /** The job: writes the export's file, page by page, and tells its owner how far it got. */
  async run(job: Job): Promise<void> {
    try {
      await this.#run(job);
    } catch (error) {
      // Out of attempts (or failed for good), the export failed: its owner is told, and may ask again.
      const last = job.attempt >= job.attempts || error instanceof PermanentJobError;
      if (last && !job.signal.aborted) {
        const record = await this.#store.findExport(String(job.payload.exportId)).catch(() => undefined);
        if (record !== undefined && record.state !== 'done' && record.state !== 'failed') {
          await this.#finish(record, { state: 'failed', error: 'The export could not be written; ask for it again.' }).catch(() => undefined);
        }
      }
      throw error;
    }
  }

  async #run(job: Job): Promise<void> {
    const id = String(job.payload.exportId);
    const record = await this.#store.findExport(id);
    // Deleted meanwhile (expired, swept): nothing to do. Done: a repeated run.
    if (record === undefined || record.state === 'done') return;
    const membership = await this.#store.membership(record.roomId, record.userId);
    if (membership.role === null) {
      await this.#finish(record, { state: 'failed', error: 'You are no longer a member of this room.' });
      throw new PermanentJobError(`export ${id}: its owner left the room`);
    }
    const room = await this.#store.findRoom(record.roomId);
    const owner = await this.#store.findUserById(record.userId);
    if (room === undefined || owner === undefined) throw new PermanentJobError(`export ${id}: room or owner gone`);
    mkdirSync(this.#options.dir, { recursive: true });
    const final = this.#file(record);
    // A name of this run's own: a run that lost its lease and goes on meanwhile writes elsewhere.
    const part = `${final}.${job.attempt}.${newId()}.part`;
    let progress: ExportRecord = { ...record, state: 'running', doneSeq: 0, messages: 0, bytes: 0, error: null };
    await this.#store.updateExport(id, { state: 'running', doneSeq: 0, messages: 0, bytes: 0, error: null });
    this.#announce(progress);
    const out = createWriteStream(part);
    const failed = once(out, 'error').then(([error]) => {
      throw error;
    });
    failed.catch(() => undefined);
    const write = async (chunk: string): Promise<void> => {
      if (chunk === '') return;
      progress.bytes += Buffer.byteLength(chunk);
      if (!out.write(chunk)) await Promise.race([once(out, 'drain'), failed]);
    };
    try {
      await write(renderHead(record.format, { roomName: room.name, roomId: room.id, exportedAt: new Date(record.createdAt).toISOString(), exportedBy: owner.username }));
      let after = 0;
      let lastTold = performance.now();
      while (after < record.throughSeq) {
        if (job.signal.aborted) throw job.signal.reason ?? new Error('aborted');
        const page = await this.#store.readHistory({ roomId: record.roomId, after, limit: this.#options.pageSize });
        const messages = page.messages.filter((m) => m.seq <= record.throughSeq);
        if (messages.length > 0) {
          const rendered = await this.#pool().run('render-export-page', { format: record.format, messages }, job.signal);
          await write(rendered);
          progress.messages += messages.length;
        }
        const last = page.messages.at(-1)?.seq;
        // No message after `after`: the rest of the stream holds none (joins, leaves).
        after = last === undefined || !page.hasMore ? record.throughSeq : last;
        progress.doneSeq = Math.min(after, record.throughSeq);
        if (performance.now() - lastTold >= PROGRESS_EVERY_MS) {
          lastTold = performance.now();
          await this.#store.updateExport(id, { doneSeq: progress.doneSeq, messages: progress.messages, bytes: progress.bytes });
          this.#announce(progress);
        }
      }
      await write(renderTail(record.format, progress.messages));
      out.end();
      await Promise.race([once(out, 'finish'), failed]);
    } catch (error) {
      out.destroy();
      rmSync(part, { force: true });
      throw error;
    }
    // Given up meanwhile (its lease lost): another run owns the export now.
    if (job.signal.aborted) {
      rmSync(part, { force: true });
      throw job.signal.reason ?? new Error('aborted');
    }
    renameSync(part, final);
    const now = this.#now();
    progress = { ...progress, state: 'done', doneSeq: record.throughSeq, finishedAt: now, expiresAt: now + this.#options.ttlMs };
    await this.#store.updateExport(id, { state: 'done', doneSeq: progress.doneSeq, messages: progress.messages, bytes: progress.bytes, finishedAt: now, expiresAt: progress.expiresAt });
    this.#announce(progress);
  }

  /** The repeatable job: deletes expired exports and their files. */
  async sweep(): Promise<void> {
    for (;;) {
      const expired = await this.#store.listExpiredExports(this.#now(), SWEEP_BATCH);
      for (const record of expired) {
        rmSync(this.#file(record), { force: true });
        await this.#store.deleteExport(record.id);
      }
      if (expired.length < SWEEP_BATCH) return;
    }
  }

  view(record: ExportRecord): Export {
    const out: Export = {
      id: record.id,
      roomId: record.roomId,
      format: record.format,
      state: record.state,
      progress: record.state === 'done' ? 1 : record.throughSeq === 0 ? 0 : Math.min(1, record.doneSeq / record.throughSeq),
      messages: record.messages,
      bytes: record.bytes,
      error: record.error,
      createdAt: new Date(record.createdAt).toISOString(),
      finishedAt: record.finishedAt === null ? null : new Date(record.finishedAt).toISOString(),
      expiresAt: record.expiresAt === null ? null : new Date(record.expiresAt).toISOString(),
    };
    if (record.state === 'done' && record.expiresAt !== null) {
      // The link lasts as long as the file, signed so that any node can check it without a lookup.
      const expires = record.expiresAt;
      out.downloadUrl = `${this.#options.baseUrl ?? ''}/api/v1/exports/${encodeURIComponent(record.id)}/download?expires=${expires}&signature=${this.#key.sign(linkMessage(record.id, expires))}`;
      out.downloadExpiresAt = new Date(expires).toISOString();
    }
    return out;
  }

  async #finish(record: ExportRecord, changes: { state: 'failed'; error: string }): Promise<void> {
    const finishedAt = this.#now();
    await this.#store.updateExport(record.id, { ...changes, finishedAt });
    this.#announce({ ...record, ...changes, finishedAt });
  }

  #announce(record: ExportRecord): void {
    this.#publisher.jobEvent(record.userId, { type: 'job', kind: 'export', job: this.view(record) });
  }

  #file(record: ExportRecord): string {
    // Ids are base64url: safe as file names.
    return path.join(this.#options.dir, `${record.id}.${record.format}`);
  }
}

const linkMessage = (id: string, expiresAt: number): string => `export-download:${id}:${expiresAt}`;

