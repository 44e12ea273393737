/** The files waiting for the next message, as chips: name, size, progress, and a button that cancels or removes. */
import { formatSize } from '../format.js';
import type { Uploads } from '../state/uploads.js';

export function UploadTray({ uploads }: { uploads: Uploads }) {
  const items = uploads.items.value;
  const note = uploads.note.value;
  return (
    <div class="upload-tray" hidden={items.length === 0 && note === ''}>
      <ul class="uploads" aria-label="Files to send" data-testid="uploads">
        {items.map((u) => {
          const label = u.state === 'uploading' ? `Cancel the upload of ${u.name}` : u.state === 'done' ? `Remove ${u.name}` : `Dismiss ${u.name}`;
          return (
            <li key={u.id} class="upload" data-state={u.state} title={u.name} data-testid="upload">
              {u.previewUrl === null ? (
                <span class="upload-icon" aria-hidden="true">
                  📄
                </span>
              ) : (
                <img class="upload-preview" src={u.previewUrl} alt="" />
              )}
              <span class="upload-info">
                <span class="upload-name" data-testid="upload-name">
                  {u.name}
                </span>
                <span class="upload-size">{formatSize(u.size)}</span>
                <span class={u.state === 'failed' ? 'upload-status error' : 'upload-status'} role={u.state === 'failed' ? 'alert' : undefined} data-testid="upload-status">
                  {u.state === 'uploading' ? 'uploading…' : u.state === 'done' ? 'ready' : u.error}
                </span>
              </span>
              {u.state === 'uploading' && <progress max={1} value={u.progress} aria-label={`Uploading ${u.name}`} data-testid="upload-progress" />}
              <button
                type="button"
                class="upload-remove secondary small"
                aria-label={label}
                onClick={(event) => {
                  // Focus stays in the tray when it was on the button going away.
                  const chip = event.currentTarget.closest('li');
                  const next = (chip?.nextElementSibling ?? chip?.previousElementSibling)?.querySelector<HTMLButtonElement>('.upload-remove');
                  uploads.remove(u.id);
                  next?.focus();
                }}
                data-testid="upload-remove"
              >
                ✕
              </button>
            </li>
          );
        })}
      </ul>
      <p class="hint upload-note" role="status" data-testid="uploads-note">
        {note}
      </p>
    </div>
  );
}
