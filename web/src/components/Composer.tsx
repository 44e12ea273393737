/**
 * Writing a message: Enter sends, Shift+Enter is a new line, the Up arrow in an empty composer
 * edits my last message, `@` suggests the room's members (a list the composer controls: arrows
 * choose, Enter or Tab takes, Escape closes). The text is kept per room as a draft (switching rooms or reloading
 * loses nothing). Files come from the attach button (or a drop or paste on the room).
 */
import { useSignal } from '@preact/signals';
import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';
import type { User } from '../../../client/index.js';
import { afterFirstSend } from '../state/attention.js';
import { loadDraft, saveDraft } from '../state/drafts.js';
import { insertMention, mentionCandidates, mentionQuery } from '../state/mentions.js';
import type { RoomSession } from '../state/room.js';

/** The composer's id: focus goes back to it after an edit or a drop. */
export const COMPOSER_ID = 'composer';

export function Composer({ session, me }: { session: RoomSession; me: User }) {
  const text = useSignal(loadDraft(me.id, session.roomId));
  const ref = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const uploading = session.uploads.uploading.value;
  const caret = useSignal(0);
  const active = useSignal(0);
  const dismissed = useSignal<string | null>(null);
  const placeCaret = useRef<number | null>(null);

  const query = mentionQuery(text.value, caret.value);
  const candidates = query === null || dismissed.value === text.value ? [] : mentionCandidates(session.members.value ?? [], query.query, me.id);
  const open = candidates.length > 0;
  const chosen = open ? Math.min(active.value, candidates.length - 1) : -1;

  useLayoutEffect(() => {
    const at = placeCaret.current;
    if (at === null || ref.current === null) return;
    placeCaret.current = null;
    ref.current.setSelectionRange(at, at);
  });

  useEffect(() => {
    // Not on a phone, where focusing would open the keyboard over the messages just opened.
    if (!matchMedia('(max-width: 640px)').matches) ref.current?.focus();
  }, [session]);

  const set = (value: string) => {
    text.value = value;
    saveDraft(me.id, session.roomId, value);
  };

  const track = (el: HTMLTextAreaElement) => {
    caret.value = el.selectionStart;
  };

  const pick = (username: string) => {
    if (query === null) return;
    const next = insertMention(text.value, query.start, caret.value, username);
    set(next.text);
    caret.value = next.caret;
    placeCaret.current = next.caret;
    active.value = 0;
    ref.current?.focus();
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
        title="Enter sends, Shift+Enter starts a new line, Up edits your last message, @ mentions someone"
        aria-label="Message"
        aria-autocomplete="list"
        aria-controls="mention-options"
        aria-activedescendant={open ? `mention-${chosen}` : undefined}
        value={text.value}
        onInput={(event) => {
          set(event.currentTarget.value);
          track(event.currentTarget);
          active.value = 0;
          session.typed(event.currentTarget.value);
        }}
        onClick={(event) => track(event.currentTarget)}
        onKeyUp={(event) => {
          if (event.key === 'ArrowLeft' || event.key === 'ArrowRight' || event.key === 'Home' || event.key === 'End') track(event.currentTarget);
        }}
        onKeyDown={(event) => {
          if (open && !event.isComposing) {
            const suggestion = candidates[chosen];
            if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
              event.preventDefault();
              active.value = (chosen + (event.key === 'ArrowDown' ? 1 : candidates.length - 1)) % candidates.length;
              return;
            }
            if ((event.key === 'Enter' || event.key === 'Tab') && !event.shiftKey && suggestion !== undefined) {
              event.preventDefault();
              pick(suggestion.user.username);
              return;
            }
            if (event.key === 'Escape') {
              event.preventDefault();
              dismissed.value = text.value;
              return;
            }
          }
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
      <div id="mention-options" class="mentions" role="listbox" aria-label="People to mention" hidden={!open} data-testid="mention-options">
        {candidates.map((m, i) => (
          // biome-ignore lint/a11y/useKeyWithClickEvents: the keyboard chooses from the composer, which controls the list (aria-activedescendant)
          <div
            key={m.user.id}
            id={`mention-${i}`}
            role="option"
            tabIndex={-1}
            aria-selected={i === chosen}
            class={i === chosen ? 'mention-option active' : 'mention-option'}
            onMouseDown={(event) => event.preventDefault()}
            onClick={() => pick(m.user.username)}
            data-testid="mention-option"
          >
            <span class="member-name">{m.user.displayName}</span> <span class="username">@{m.user.username}</span>
          </div>
        ))}
      </div>
      <button type="submit" disabled={uploading} data-testid="send">
        {uploading ? 'Uploading…' : 'Send'}
      </button>
    </form>
  );
}
