/**
 * One row of the list: a message (Markdown through the shared renderer, which escapes
 * everything it does not itself write), its files, and its actions (copy link; edit and delete
 * for its author, delete for the room's owner, react, reply in thread), its reactions and its
 * thread's summary ("2 replies · 10:42"); a tombstone once deleted; or a joined/left line.
 */
import { useSignal } from '@preact/signals';
import { useLayoutEffect, useRef } from 'preact/hooks';
import type { User } from '../../../client/index.js';
import { renderMarkdown } from '../../../src/protocol/markdown.js';
import { describeError, formatDateTime, formatTime } from '../format.js';
import type { RoomSession } from '../state/room.js';
import type { Row, Shown } from '../state/timeline.js';
import { Attachments } from './Attachments.js';
import { ReactButton, ReactionChips } from './Reactions.js';
import { COMPOSER_ID } from './Composer.js';

/** Rendered bodies by message object: a row re-rendered for another reason does not re-parse its text. */
const rendered = new WeakMap<Shown, string>();

function html(message: Shown): string {
  let out = rendered.get(message);
  if (out === undefined) {
    out = renderMarkdown(message.body);
    rendered.set(message, out);
  }
  return out;
}

export function Body({ message, me }: { message: Shown; me: User }) {
  const ref = useRef<HTMLDivElement>(null);
  const markup = html(message);
  // Mentions of me stand out: the renderer marks every mention with its username.
  useLayoutEffect(() => {
    for (const mention of ref.current?.querySelectorAll<HTMLElement>('.mention') ?? []) {
      const name = mention.dataset.username?.toLowerCase();
      mention.classList.toggle('mention-me', name === me.username.toLowerCase() || name === 'room');
    }
  }, [markup]);
  return <div ref={ref} class="message-body" data-testid="message-body" dangerouslySetInnerHTML={{ __html: markup }} />;
}

function Editor({ session, seq, body }: { session: RoomSession; seq: number; body: string }) {
  const text = useSignal(body);
  const error = useSignal('');
  const busy = useSignal(false);
  const ref = useRef<HTMLTextAreaElement>(null);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el === null) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
  }, []);
  const done = () => {
    session.editing.value = null;
    document.getElementById(COMPOSER_ID)?.focus();
  };
  const save = () => {
    const next = text.value.trim();
    if (next === body.trim()) return done();
    if (next === '') {
      error.value = 'A message cannot be empty: delete it instead.';
      return;
    }
    busy.value = true;
    session.edit(seq, next).then(done, (e: unknown) => {
      busy.value = false;
      error.value = `Not saved: ${describeError(e)}`;
    });
  };
  return (
    <form
      class="edit-form"
      onSubmit={(event) => {
        event.preventDefault();
        save();
      }}
    >
      <textarea
        ref={ref}
        rows={2}
        maxLength={4000}
        aria-label="Edit message"
        value={text.value}
        onInput={(e) => {
          text.value = e.currentTarget.value;
          error.value = '';
        }}
        onKeyDown={(event) => {
          if (event.key === 'Escape') {
            event.preventDefault();
            done();
          } else if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            save();
          }
        }}
        data-testid="edit-input"
      />
      <div class="edit-actions">
        <span class="hint">Enter saves · Escape cancels</span>
        <button type="button" class="secondary small" onClick={done} data-testid="edit-cancel">
          Cancel
        </button>
        <button type="submit" class="small" disabled={busy.value} data-testid="edit-save">
          Save
        </button>
      </div>
      <p class="error" role="alert">
        {error.value}
      </p>
    </form>
  );
}

export interface RowActions {
  copyLink: (seq: number) => void;
  confirmDelete: (seq: number) => void;
  react: (seq: number, emoji: string, on: boolean) => void;
  openThread: (seq: number) => void;
}

/** "N replies · last reply time": opens the thread. */
function ThreadSummary({ count, lastReplyAt, onOpen }: { count: number; lastReplyAt: string | undefined; onOpen: () => void }) {
  return (
    <button type="button" class="thread-summary" onClick={onOpen} data-testid="thread-summary">
      {count} {count === 1 ? 'reply' : 'replies'}
      {lastReplyAt !== undefined && (
        <>
          {' · '}
          <time dateTime={lastReplyAt} title={formatDateTime(lastReplyAt)}>
            {formatTime(lastReplyAt)}
          </time>
        </>
      )}
    </button>
  );
}

export function MessageRow({ row, session, me, canModerate, actions }: { row: Row; session: RoomSession; me: User; canModerate: boolean; actions: RowActions }) {
  if (row.type === 'notice') {
    return (
      <li class="notice" data-testid="notice" data-seq={row.seq}>
        {row.text}
      </li>
    );
  }
  const m = row.message;
  const mine = m.author.id === me.id;
  const seq = row.type === 'message' ? row.seq : null;
  const stored = row.type === 'message' ? row.message : null;
  const editing = seq !== null && session.editing.value === seq;
  const classes = ['message'];
  if (mine) classes.push('mine');
  if (row.type === 'pending') classes.push(row.failed ? 'failed' : 'pending');
  if (m.deleted) classes.push('deleted');
  if (seq !== null && session.highlighted.value === seq) classes.push('highlighted');
  // A message of files alone has no text: no empty paragraph under its author.
  const showBody = !(m.body === '' && !m.deleted && (m.attachments?.length ?? 0) > 0);
  return (
    <li class={classes.join(' ')} data-testid="message" data-seq={seq ?? undefined} aria-busy={row.type === 'pending' && !row.failed ? 'true' : undefined}>
      <div class="meta">
        <span class="message-author" data-testid="message-author" title={`@${m.author.username}`}>
          {m.author.displayName}
        </span>
        <span class="message-username">@{m.author.username}</span>
        {seq === null ? (
          <time dateTime={m.createdAt} title={formatDateTime(m.createdAt)}>
            {formatTime(m.createdAt)}
          </time>
        ) : (
          <a class="permalink" href={`#/rooms/${encodeURIComponent(session.roomId)}/${seq}`} title={formatDateTime(m.createdAt)}>
            <time dateTime={m.createdAt}>{formatTime(m.createdAt)}</time>
          </a>
        )}
        {m.editedAt !== null && !m.deleted && (
          <span class="edited" data-testid="edited" title={formatDateTime(m.editedAt)}>
            (edited)
          </span>
        )}
        {seq !== null && !m.deleted && !editing && (
          <span class="message-actions" role="toolbar" aria-label="Message actions">
            <button type="button" class="secondary small" onClick={() => actions.copyLink(seq)} aria-label="Copy link to message" data-testid="copy-link">
              Link
            </button>
            <ReactButton reactions={stored?.reactions} onToggle={(emoji, on) => actions.react(seq, emoji, on)} />
            <button type="button" class="secondary small" onClick={() => actions.openThread(seq)} aria-label="Reply in thread" data-testid="reply-in-thread">
              Reply
            </button>
            {mine && (
              <button
                type="button"
                class="secondary small"
                onClick={() => {
                  session.editing.value = seq;
                }}
                aria-label="Edit message"
                data-testid="edit-message"
              >
                Edit
              </button>
            )}
            {(mine || canModerate) && (
              <button type="button" class="secondary small danger" onClick={() => actions.confirmDelete(seq)} aria-label="Delete message" data-testid="delete-message">
                Delete
              </button>
            )}
          </span>
        )}
      </div>
      {m.deleted ? (
        <p class="message-body" data-testid="message-body">
          message deleted
        </p>
      ) : editing && seq !== null ? (
        <Editor session={session} seq={seq} body={m.body} />
      ) : (
        showBody && <Body message={m} me={me} />
      )}
      {!m.deleted && <Attachments attachments={m.attachments} />}
      {stored !== null && seq !== null && !m.deleted && <ReactionChips reactions={stored.reactions} onToggle={(emoji, on) => actions.react(seq, emoji, on)} />}
      {stored !== null && seq !== null && (stored.replyCount ?? 0) > 0 && <ThreadSummary count={stored.replyCount ?? 0} lastReplyAt={stored.lastReplyAt} onOpen={() => actions.openThread(seq)} />}
    </li>
  );
}
