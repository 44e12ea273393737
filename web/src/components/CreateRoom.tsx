/** The form that creates a room (public or private) and opens it. */
import { useSignal } from '@preact/signals';
import { describeError } from '../format.js';
import type { AppState } from '../state/app.js';

export function CreateRoom({ app }: { app: AppState }) {
  const name = useSignal('');
  const visibility = useSignal<'public' | 'private'>('public');
  const error = useSignal('');
  const busy = useSignal(false);

  const submit = (event: Event) => {
    event.preventDefault();
    const roomName = name.value.trim();
    if (roomName === '') return;
    error.value = '';
    busy.value = true;
    app.api
      .createRoom({ name: roomName, visibility: visibility.value })
      .then((room) => {
        name.value = '';
        app.entered(room);
      })
      .catch((e: unknown) => {
        error.value = describeError(e);
      })
      .finally(() => {
        busy.value = false;
      });
  };

  return (
    <form class="create-room" aria-label="Create a room" onSubmit={submit}>
      <div class="row">
        <input
          name="name"
          placeholder="New room name"
          maxLength={100}
          required
          autocomplete="off"
          aria-label="New room name"
          value={name.value}
          onInput={(e) => {
            name.value = e.currentTarget.value;
            error.value = '';
          }}
          data-testid="create-room-name"
        />
        <select
          name="visibility"
          aria-label="Visibility"
          value={visibility.value}
          onChange={(e) => {
            visibility.value = e.currentTarget.value === 'private' ? 'private' : 'public';
          }}
          data-testid="create-room-visibility"
        >
          <option value="public">Public</option>
          <option value="private">Private</option>
        </select>
      </div>
      <button type="submit" disabled={busy.value} data-testid="create-room-submit">
        Create
      </button>
      <p class="error" role="alert" data-testid="create-room-error">
        {error.value}
      </p>
    </form>
  );
}
