/**
 * Attachments as a message shows them: images inline as a preview sized before it loads (so
 * the list never jumps), opening a lightbox; any other file as a card with its name, size,
 * type and a download link. Names are user input: they only ever go in as text or attributes.
 */
import { signal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import type { Attachment } from '../../../client/index.js';
import { fileUrl, thumbnailUrl } from '../api.js';
import { formatSize } from '../format.js';
import { useModalDialog } from './modal.js';

/** The largest box an inline preview takes, in CSS pixels. */
const PREVIEW_MAX_WIDTH = 360;
const PREVIEW_MAX_HEIGHT = 280;

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

/** The image shown full size (one lightbox per page), and the element that opened it. */
const shown = signal<{ attachment: Attachment; opener: HTMLElement } | null>(null);

function AttachmentItem({ a }: { a: Attachment }) {
  if (isPreviewable(a)) {
    const scale = Math.min(1, PREVIEW_MAX_WIDTH / a.width, PREVIEW_MAX_HEIGHT / a.height);
    return (
      <button
        type="button"
        class="attachment-image"
        title={a.name}
        aria-label={`Open image ${a.name}`}
        onClick={(event) => {
          shown.value = { attachment: a, opener: event.currentTarget };
        }}
        data-testid="attachment-image"
      >
        <img
          src={a.thumbnail === undefined ? fileUrl(a.id) : thumbnailUrl(a.id)}
          alt={a.name}
          width={Math.max(1, Math.round(a.width * scale))}
          height={Math.max(1, Math.round(a.height * scale))}
          loading="lazy"
          decoding="async"
          data-testid="attachment-preview"
        />
      </button>
    );
  }
  return (
    <div class="attachment-file" data-testid="attachment-file">
      <span class="file-icon" aria-hidden="true">
        📄
      </span>
      <span class="file-info">
        <span class="file-name" title={a.name} data-testid="attachment-name">
          {a.name}
        </span>
        <span class="file-meta" data-testid="attachment-meta">
          {`${formatSize(a.size)} · ${describeType(a.contentType)}`}
        </span>
      </span>
      <a class="file-download" href={fileUrl(a.id)} download={a.name} aria-label={`Download ${a.name}`} data-testid="attachment-download">
        Download
      </a>
    </div>
  );
}

/** The attachments of a message, or nothing when it has none. */
export function Attachments({ attachments }: { attachments: readonly Attachment[] | undefined }) {
  if (attachments === undefined || attachments.length === 0) return null;
  return (
    <ul class="attachments" aria-label="Attachments" data-testid="attachments">
      {attachments.map((a) => (
        <li key={a.id}>
          <AttachmentItem a={a} />
        </li>
      ))}
    </ul>
  );
}

/**
 * The full image over the page, in a modal <dialog>: the browser keeps focus inside it and
 * closes it on Escape; a click anywhere but its links closes it too, and focus goes back to the
 * preview that opened it.
 */
export function Lightbox() {
  const close = useRef<HTMLButtonElement>(null);
  const current = shown.value;
  const dialog = useModalDialog(current !== null, close, () => {
    const opener = shown.peek()?.opener;
    shown.value = null;
    if (opener?.isConnected === true) opener.focus();
  });
  useEffect(() => () => {
    shown.value = null;
  }, []);
  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: the keyboard's way out is Escape (the browser's own for a modal dialog); a click anywhere is the mouse's
    <dialog
      ref={dialog}
      class="lightbox"
      aria-label={current?.attachment.name}
      data-testid="lightbox"
      onClick={(event) => {
        if (!(event.target instanceof Element && event.target.closest('a') !== null)) dialog.current?.close();
      }}
    >
      {current !== null && (
        <>
          <button ref={close} type="button" class="lightbox-close secondary" aria-label="Close" data-testid="lightbox-close">
            ✕
          </button>
          <figure>
            <img src={fileUrl(current.attachment.id)} alt={current.attachment.name} data-testid="lightbox-image" />
            <figcaption>
              <span class="file-name">{current.attachment.name}</span>{' '}
              <a href={fileUrl(current.attachment.id)} download={current.attachment.name}>
                {`Download (${formatSize(current.attachment.size)})`}
              </a>
            </figcaption>
          </figure>
        </>
      )}
    </dialog>
  );
}
