/**
 * The files waiting to go with the next message: each starts uploading the moment it is chosen
 * (XMLHttpRequest, for its upload progress). Once uploaded it can be removed, which deletes it
 * from the server; removed while uploading, the upload is cancelled. A refused upload (too big,
 * a type not allowed, over the daily quota) says why.
 */
import { computed, signal } from '@preact/signals';
import type { Attachment } from '../../../client/index.js';
import { type Api, uploadUrl } from '../api.js';
import { describeError } from '../format.js';

/** Most files one message may carry (the server's default). */
export const MAX_ATTACHMENTS = 10;

export const WAITING_NOTE = 'Sending waits until every file is uploaded (or its upload cancelled).';

export type UploadState = 'uploading' | 'done' | 'failed';

export interface Upload {
  readonly id: number;
  readonly name: string;
  readonly size: number;
  readonly state: UploadState;
  /** 0 to 1 while uploading. */
  readonly progress: number;
  /** Why it failed. */
  readonly error: string;
  /** The object URL of a local preview (images), revoked when the upload goes. */
  readonly previewUrl: string | null;
  readonly attachment: Attachment | null;
}

let nextId = 0;

export class Uploads {
  readonly items = signal<readonly Upload[]>([]);
  readonly note = signal('');
  /** True while any file is still on its way up. */
  readonly uploading = computed(() => this.items.value.some((u) => u.state === 'uploading'));
  readonly #api: Api;
  readonly #roomId: string;
  readonly #requests = new Map<number, XMLHttpRequest>();

  constructor(api: Api, roomId: string) {
    this.#api = api;
    this.#roomId = roomId;
  }

  /** The uploads finished, in the order they were chosen. */
  finished(): Attachment[] {
    return this.items.peek().flatMap((u) => (u.state === 'done' && u.attachment !== null ? [u.attachment] : []));
  }

  /** Starts uploading files, as many as still fit in one message. */
  add(files: Iterable<File>): void {
    const chosen = [...files];
    if (chosen.length === 0) return;
    const room = MAX_ATTACHMENTS - this.items.peek().filter((u) => u.state !== 'failed').length;
    const taken = chosen.slice(0, Math.max(0, room));
    const left = chosen.length - taken.length;
    this.note.value = left === 0 ? '' : `A message carries at most ${MAX_ATTACHMENTS} files: ${left === 1 ? '1 file was' : `${left} files were`} not added.`;
    for (const file of taken) this.#start(file);
  }

  /** Says that sending waits for the uploads; said until none is still uploading. */
  sayWaiting(): void {
    this.note.value = WAITING_NOTE;
  }

  /** The message took the finished uploads: they go from the tray, the files stay on the server. */
  clear(): void {
    for (const upload of this.items.peek()) this.#release(upload);
    this.items.value = [];
    this.note.value = '';
  }

  /** Nothing will be sent: uploads in flight are cancelled and finished ones deleted. */
  discard(): void {
    for (const upload of this.items.peek()) this.remove(upload.id);
  }

  /** Takes an upload away: cancels it, or deletes the file it uploaded. */
  remove(id: number): void {
    const upload = this.items.peek().find((u) => u.id === id);
    if (upload === undefined) return;
    this.items.value = this.items.peek().filter((u) => u.id !== id);
    if (upload.state === 'uploading') this.#requests.get(id)?.abort();
    else if (upload.state === 'done' && upload.attachment !== null) {
      const fileId = upload.attachment.id;
      // Not deleted now (offline, say), it is left to the server's sweep of unattached uploads.
      this.#api.discardUpload(fileId).catch((error: unknown) => console.warn(`Parley: the upload ${fileId} was not deleted:`, describeError(error)));
    }
    this.#release(upload);
    this.note.value = '';
  }

  #update(id: number, change: Partial<Upload>): void {
    this.items.value = this.items.peek().map((u) => (u.id === id ? { ...u, ...change } : u));
    if (!this.uploading.peek() && this.note.peek() === WAITING_NOTE) this.note.value = '';
  }

  #release(upload: Upload): void {
    this.#requests.delete(upload.id);
    if (upload.previewUrl !== null) URL.revokeObjectURL(upload.previewUrl);
  }

  #start(file: File): void {
    const id = ++nextId;
    const name = file.name === '' ? 'file' : file.name;
    const xhr = new XMLHttpRequest();
    const previewUrl = file.type.startsWith('image/') ? URL.createObjectURL(file) : null;
    this.#requests.set(id, xhr);
    this.items.value = [...this.items.peek(), { id, name, size: file.size, state: 'uploading', progress: 0, error: '', previewUrl, attachment: null }];

    const settle = (change: Partial<Upload>) => {
      if (this.items.peek().find((u) => u.id === id)?.state !== 'uploading') return;
      this.#requests.delete(id);
      this.#update(id, change);
    };
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) this.#update(id, { progress: event.loaded / event.total });
    });
    xhr.addEventListener('load', () => {
      const body = parseJson(xhr.responseText);
      if (xhr.status === 201 && isUploadBody(body)) settle({ state: 'done', attachment: body.upload });
      else settle({ state: 'failed', error: failureText(xhr.status, body) });
    });
    xhr.addEventListener('error', () => settle({ state: 'failed', error: 'Upload failed: the server could not be reached.' }));
    xhr.addEventListener('timeout', () => settle({ state: 'failed', error: 'Upload failed: the server took too long.' }));

    xhr.open('POST', uploadUrl(this.#roomId, name));
    xhr.withCredentials = true;
    // Always this type: the server sniffs the content, and a cookie-authenticated POST must not
    // use a type a cross-site form could send.
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.send(file);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isUploadBody(body: unknown): body is { upload: Attachment } {
  const upload = (body as { upload?: Partial<Attachment> } | undefined)?.upload;
  return typeof upload?.id === 'string' && typeof upload.name === 'string' && typeof upload.size === 'number' && typeof upload.contentType === 'string';
}

/** The sentence a refused upload shows: the server's message, with what it needs to be understood. */
function failureText(status: number, body: unknown): string {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: Record<string, unknown> } } | undefined)?.error;
  const message = typeof error?.message === 'string' && error.message !== '' ? error.message : `The server answered HTTP ${status}.`;
  const sniffed = error?.details?.contentType;
  if (status === 415 && typeof sniffed === 'string' && !message.includes(sniffed)) return `${message} (${sniffed})`;
  return message;
}
