/** My profile: display name and status text (PATCH /me), in a dialog opened from my name. */
import { useSignal } from '@preact/signals';
import { useRef } from 'preact/hooks';
import { describeError } from '../format.js';
import type { AppState } from '../state/app.js';

export function Profile({ app }: { app: AppState }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const name = useSignal('');
  const status = useSignal('');
  const error = useSignal('');
  const busy = useSignal(false);
  const me = app.profile.value;

  const open = () => {
    name.value = me.displayName;
    status.value = me.statusText ?? '';
    error.value = '';
    dialog.current?.showModal();
  };

  const save = (event: Event) => {
    event.preventDefault();
    busy.value = true;
    error.value = '';
    const statusText = status.value.trim();
    app.api
      .updateProfile({ displayName: name.value.trim(), statusText: statusText === '' ? null : statusText })
      .then((user) => {
        app.profile.value = user;
        dialog.current?.close();
      })
      .catch((e: unknown) => {
        error.value = describeError(e);
      })
      .finally(() => {
        busy.value = false;
      });
  };

  return (
    <>
      <button type="button" class="who link-like" onClick={open} aria-label="Edit your profile" data-testid="profile-open">
        <strong data-testid="me">{me.displayName}</strong>
        <span class="username">@{me.username}</span>
        {me.statusText !== undefined && (
          <span class="username" data-testid="my-status">
            {me.statusText}
          </span>
        )}
      </button>
      <dialog ref={dialog} class="confirm" aria-labelledby="profile-title" data-testid="profile-dialog">
        <form class="profile-form" onSubmit={save}>
          <h2 id="profile-title">Your profile</h2>
          <label>
            <span>Display name</span>
            <input required maxLength={64} value={name.value} onInput={(e) => (name.value = e.currentTarget.value)} data-testid="profile-name" />
          </label>
          <label>
            <span>Status</span>
            <input maxLength={100} placeholder="What are you up to?" value={status.value} onInput={(e) => (status.value = e.currentTarget.value)} data-testid="profile-status" />
          </label>
          <p class="error" role="alert">
            {error.value}
          </p>
          <div class="actions">
            <button type="button" class="secondary" onClick={() => dialog.current?.close()}>
              Cancel
            </button>
            <button type="submit" disabled={busy.value} data-testid="profile-save">
              Save
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
