/**
 * Writing a message: Enter sends, Shift+Enter is a new line, the Up arrow in an empty composer
 * edits my last message. The text is kept per room as a draft (switching rooms or reloading
 * loses nothing). Files come from the attach button (or a drop or paste on the room).
 */
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import type { User } from '../../../client/index.js';
import { afterFirstSend } from '../state/attention.js';
import { loadDraft, saveDraft } from '../state/drafts.js';
import type { RoomSession } from '../state/room.js';

/** The composer's id: focus goes back to it after an edit or a drop. */
export const COMPOSER_ID = 'composer';

export function Composer({ session, me }: { session: RoomSession; me: User }) {
  const text = useSignal(loadDraft(me.id, session.roomId));
  const ref = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const uploading = session.uploads.uploading.value;

  useEffect(() => {
    // Not on a phone, where focusing would open the keyboard over the messages just opened.
    if (!matchMedia('(max-width: 640px)').matches) ref.current?.focus();
  }, [session]);

  const set = (value: string) => {
    text.value = value;
    saveDraft(me.id, session.roomId, value);
  };

  const send = () => {
    if (session.send(text.value, afterFirstSend)) set('');
  };

  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        send();
      }}
    >
      <button type="button" class="secondary attach" title="Attach files" aria-label="Attach files" onClick={() => fileInput.current?.click()} data-testid="attach">
        📎
      </button>
      <input
        ref={fileInput}
        type="file"
        multiple
        hidden
        tabIndex={-1}
        onChange={(event) => {
          const input = event.currentTarget;
          session.uploads.add(input.files ?? []);
          // The same file can be chosen again.
          input.value = '';
          ref.current?.focus();
        }}
        data-testid="file-input"
      />
      <textarea
        ref={ref}
        id={COMPOSER_ID}
        rows={2}
        maxLength={4000}
        placeholder="Write a message"
        title="Enter sends, Shift+Enter starts a new line, Up edits your last message"
        aria-label="Message"
        value={text.value}
        onInput={(event) => {
          set(event.currentTarget.value);
          session.typed(event.currentTarget.value);
        }}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            send();
          } else if (event.key === 'ArrowUp' && text.value === '' && !event.isComposing) {
            const last = session.timeline.lastOwnMessage();
            if (last === undefined) return;
            event.preventDefault();
            session.editing.value = last.seq;
          }
        }}
        data-testid="composer"
      />
      <button type="submit" disabled={uploading} data-testid="send">
        {uploading ? 'Uploading…' : 'Send'}
      </button>
    </form>
  );
}
