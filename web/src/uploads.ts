/**
 * The files waiting to go with the next message: each starts uploading the moment it is chosen
 * (XMLHttpRequest, for its upload progress), and shows as a chip with its name, size, progress
 * and a button that cancels the upload, or once uploaded, deletes it from the server. A refused
 * upload (too big, a type not allowed, over the daily quota) says why on its chip.
 */
import type { Attachment, ParleyClient } from '../../client/index.js';
import { formatSize } from './attachments.js';
import { describeError, h, setText } from './dom.js';

/** Most files one message may carry (the server's default). */
export const MAX_ATTACHMENTS = 10;

const WAITING_NOTE = 'Sending waits until every file is uploaded (or its upload cancelled).';

type State = 'uploading' | 'done' | 'failed';

interface Upload {
  state: State;
  readonly name: string;
  readonly chip: HTMLLIElement;
  readonly xhr: XMLHttpRequest;
  /** The object URL of the chip's local preview, revoked when the chip goes. */
  readonly previewUrl: string | null;
  attachment: Attachment | null;
}

export interface UploadTrayOptions {
  client: ParleyClient;
  roomId: string;
  /** Called whenever an upload starts, finishes, fails or goes. */
  onChange: () => void;
}

export class UploadTray {
  readonly #list = h('ul', { class: 'uploads', 'aria-label': 'Files to send', 'data-testid': 'uploads' });
  readonly #note = h('p', { class: 'hint upload-note', role: 'status', 'data-testid': 'uploads-note' });
  readonly element = h('div', { class: 'upload-tray' }, this.#list, this.#note);
  readonly #client: ParleyClient;
  readonly #roomId: string;
  readonly #onChange: () => void;
  readonly #uploads: Upload[] = [];

  constructor({ client, roomId, onChange }: UploadTrayOptions) {
    this.#client = client;
    this.#roomId = roomId;
    this.#onChange = onChange;
    this.element.hidden = true;
  }

  /** True while any file is still on its way up. */
  get uploading(): boolean {
    return this.#uploads.some((u) => u.state === 'uploading');
  }

  /** The uploads finished, in the order they were chosen. */
  finished(): Attachment[] {
    return this.#uploads.flatMap((u) => (u.state === 'done' && u.attachment !== null ? [u.attachment] : []));
  }

  /** Starts uploading files, as many as still fit in one message. */
  add(files: Iterable<File>): void {
    const chosen = [...files];
    if (chosen.length === 0) return;
    const room = MAX_ATTACHMENTS - this.#uploads.filter((u) => u.state !== 'failed').length;
    const taken = chosen.slice(0, Math.max(0, room));
    const left = chosen.length - taken.length;
    this.#say(left === 0 ? '' : `A message carries at most ${MAX_ATTACHMENTS} files: ${left === 1 ? '1 file was' : `${left} files were`} not added.`);
    for (const file of taken) this.#start(file);
    this.#render();
  }

  /** Says that sending waits for the uploads; said until none is still uploading. */
  sayWaiting(): void {
    this.#say(WAITING_NOTE);
  }

  /** The message took the finished uploads: the chips go, the files stay on the server. */
  clear(): void {
    for (const upload of this.#uploads.splice(0)) this.#drop(upload);
    this.#say('');
  }

  /** Nothing will be sent: uploads in flight are cancelled and finished ones deleted. */
  discard(): void {
    for (const upload of [...this.#uploads]) this.#remove(upload);
    this.#render();
  }

  #start(file: File): void {
    const name = file.name === '' ? 'file' : file.name;
    const xhr = new XMLHttpRequest();
    const previewUrl = file.type.startsWith('image/') ? URL.createObjectURL(file) : null;
    const progress = h('progress', { max: '1', value: '0', 'aria-label': `Uploading ${name}`, 'data-testid': 'upload-progress' });
    const status = h('span', { class: 'upload-status', 'data-testid': 'upload-status' }, 'uploading…');
    const remove = h('button', { type: 'button', class: 'upload-remove secondary small', 'aria-label': `Cancel the upload of ${name}`, 'data-testid': 'upload-remove' }, '✕');
    const chip = h(
      'li',
      { class: 'upload', 'data-testid': 'upload', 'data-state': 'uploading', title: name },
      previewUrl === null ? h('span', { class: 'upload-icon', 'aria-hidden': 'true' }, '📄') : h('img', { class: 'upload-preview', src: previewUrl, alt: '' }),
      h('span', { class: 'upload-info' }, h('span', { class: 'upload-name', 'data-testid': 'upload-name' }, name), h('span', { class: 'upload-size' }, formatSize(file.size)), status),
      progress,
      remove,
    );
    const upload: Upload = { state: 'uploading', name, chip, xhr, previewUrl, attachment: null };
    this.#uploads.push(upload);
    this.#list.append(chip);
    remove.addEventListener('click', () => {
      // Focus stays in the tray when it was on the button going away.
      const next = (chip.nextElementSibling ?? chip.previousElementSibling)?.querySelector<HTMLButtonElement>('.upload-remove');
      this.#remove(upload);
      this.#render();
      next?.focus();
    });

    const settle = (state: State, text: string) => {
      if (upload.state !== 'uploading') return;
      upload.state = state;
      chip.dataset.state = state;
      setText(status, text);
      if (state === 'done') remove.setAttribute('aria-label', `Remove ${name}`);
      else {
        status.classList.add('error');
        status.setAttribute('role', 'alert');
        remove.setAttribute('aria-label', `Dismiss ${name}`);
      }
      progress.remove();
      this.#render();
    };
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && event.total > 0) progress.value = event.loaded / event.total;
    });
    xhr.addEventListener('load', () => {
      const body = parseJson(xhr.responseText);
      if (xhr.status === 201 && isUploadBody(body)) {
        upload.attachment = body.upload;
        settle('done', 'ready');
      } else {
        settle('failed', failureText(xhr.status, body));
      }
    });
    xhr.addEventListener('error', () => settle('failed', 'Upload failed: the server could not be reached.'));
    xhr.addEventListener('timeout', () => settle('failed', 'Upload failed: the server took too long.'));

    xhr.open('POST', `/api/v1/rooms/${encodeURIComponent(this.#roomId)}/uploads?name=${encodeURIComponent(name)}`);
    xhr.withCredentials = true;
    // Always this type: the server sniffs the content, and a cookie-authenticated POST must not
    // use a type a cross-site form could send.
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.send(file);
  }

  /** Takes a chip away: cancels its upload, or deletes the file it uploaded. */
  #remove(upload: Upload): void {
    const index = this.#uploads.indexOf(upload);
    if (index === -1) return;
    this.#uploads.splice(index, 1);
    this.#drop(upload);
    if (upload.state === 'uploading') {
      upload.state = 'failed';
      upload.xhr.abort();
    } else if (upload.state === 'done' && upload.attachment !== null) {
      const { id } = upload.attachment;
      // Not deleted now (offline, say), it is left to the server's sweep of unattached uploads.
      this.#client.rest.discardUpload(id).catch((error: unknown) => console.warn(`Parley: the upload ${id} was not deleted:`, describeError(error)));
    }
    this.#say('');
  }

  #drop(upload: Upload): void {
    upload.chip.remove();
    if (upload.previewUrl !== null) URL.revokeObjectURL(upload.previewUrl);
  }

  #say(text: string): void {
    setText(this.#note, text);
    this.#render();
  }

  #render(): void {
    if (!this.uploading && this.#note.textContent === WAITING_NOTE) setText(this.#note, '');
    this.element.hidden = this.#uploads.length === 0 && this.#note.textContent === '';
    this.#onChange();
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
