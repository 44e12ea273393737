/**
 * Attachments as a message shows them: images inline as a preview sized before it loads (so
 * the list never jumps), opening a lightbox; any other file as a card with its name, size,
 * type and a download link. Names are user input: they only ever go in as text or attributes.
 */
import type { Attachment } from '../../client/index.js';
import { h } from './dom.js';

/** The largest box an inline preview takes, in CSS pixels. */
const PREVIEW_MAX_WIDTH = 360;
const PREVIEW_MAX_HEIGHT = 280;

export function fileUrl(id: string): string {
  return `/api/v1/files/${encodeURIComponent(id)}`;
}

export function thumbnailUrl(id: string): string {
  return `/api/v1/files/${encodeURIComponent(id)}/thumbnail`;
}

const UNITS = ['KB', 'MB', 'GB', 'TB'];

/** A byte count for people: `512 B`, `1.4 MB`, `23 MB` (decimal units, as file managers show). */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  let value = bytes;
  let unit = 'B';
  for (const next of UNITS) {
    value /= 1000;
    unit = next;
    if (value < 1000) break;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

/** An image the page can show inline: its size is known, so its box is reserved before it loads. */
function isPreviewable(a: Attachment): a is Attachment & { width: number; height: number } {
  return a.contentType.startsWith('image/') && typeof a.width === 'number' && typeof a.height === 'number' && a.width > 0 && a.height > 0;
}

/** What a content type is, in a word or two: `PDF`, `PNG image`, `text`. */
function describeType(contentType: string): string {
  const [type = '', subtype = ''] = contentType.split(';', 1)[0]?.trim().toLowerCase().split('/') ?? [];
  if (subtype === 'pdf') return 'PDF';
  if (type === 'text') return subtype === 'plain' ? 'text' : `${subtype.toUpperCase()} text`;
  if (type === 'image' || type === 'audio' || type === 'video') return `${subtype.replace(/^x-/, '').toUpperCase()} ${type}`;
  if (subtype === 'zip' || subtype.endsWith('-compressed') || subtype === 'gzip') return 'archive';
  return contentType === '' ? 'file' : contentType;
}

/** The attachments of a message, or null when it has none. */
export function renderAttachments(attachments: readonly Attachment[] | undefined, lightbox: Lightbox): HTMLElement | null {
  if (attachments === undefined || attachments.length === 0) return null;
  return h('ul', { class: 'attachments', 'data-testid': 'attachments', 'aria-label': 'Attachments' }, ...attachments.map((a) => h('li', {}, renderAttachment(a, lightbox))));
}

function renderAttachment(a: Attachment, lightbox: Lightbox): HTMLElement {
  if (isPreviewable(a)) {
    const scale = Math.min(1, PREVIEW_MAX_WIDTH / a.width, PREVIEW_MAX_HEIGHT / a.height);
    const img = h('img', {
      src: a.thumbnail === undefined ? fileUrl(a.id) : thumbnailUrl(a.id),
      alt: a.name,
      width: String(Math.max(1, Math.round(a.width * scale))),
      height: String(Math.max(1, Math.round(a.height * scale))),
      loading: 'lazy',
      decoding: 'async',
      'data-testid': 'attachment-preview',
    });
    const open = h('button', { type: 'button', class: 'attachment-image', title: a.name, 'aria-label': `Open image ${a.name}`, 'data-testid': 'attachment-image' }, img);
    open.addEventListener('click', () => lightbox.open(a, open));
    return open;
  }
  return h(
    'div',
    { class: 'attachment-file', 'data-testid': 'attachment-file' },
    h('span', { class: 'file-icon', 'aria-hidden': 'true' }, '📄'),
    h(
      'span',
      { class: 'file-info' },
      h('span', { class: 'file-name', title: a.name, 'data-testid': 'attachment-name' }, a.name),
      h('span', { class: 'file-meta', 'data-testid': 'attachment-meta' }, `${formatSize(a.size)} · ${describeType(a.contentType)}`),
    ),
    h('a', { class: 'file-download', href: fileUrl(a.id), download: a.name, 'aria-label': `Download ${a.name}`, 'data-testid': 'attachment-download' }, 'Download'),
  );
}

/**
 * The full image over the page, in a modal <dialog> (its element goes anywhere in the page):
 * the browser keeps focus inside it and closes it on Escape; a click anywhere but its links closes it too, and focus goes back to
 * the preview that opened it.
 */
export class Lightbox {
  readonly element = h('dialog', { class: 'lightbox', 'data-testid': 'lightbox' });
  #opener: HTMLElement | null = null;

  constructor() {
    this.element.addEventListener('click', (event) => {
      if (!(event.target instanceof Element && event.target.closest('a') !== null)) this.close();
    });
    this.element.addEventListener('close', () => {
      this.element.replaceChildren();
      const opener = this.#opener;
      this.#opener = null;
      if (opener?.isConnected) opener.focus();
    });
  }

  open(a: Attachment, opener: HTMLElement): void {
    if (this.element.open) this.element.close();
    this.#opener = opener;
    const close = h('button', { type: 'button', class: 'lightbox-close secondary', 'aria-label': 'Close', 'data-testid': 'lightbox-close' }, '✕');
    const img = h('img', { src: fileUrl(a.id), alt: a.name, 'data-testid': 'lightbox-image' });
    this.element.setAttribute('aria-label', a.name);
    this.element.replaceChildren(
      close,
      h('figure', {}, img, h('figcaption', {}, h('span', { class: 'file-name' }, a.name), ' ', h('a', { href: fileUrl(a.id), download: a.name }, `Download (${formatSize(a.size)})`))),
    );
    this.element.showModal();
    close.focus();
  }

  close(): void {
    if (this.element.open) this.element.close();
  }
}
