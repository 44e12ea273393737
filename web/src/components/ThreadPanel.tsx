/**
 * The open thread, beside the room's messages (on a phone, a screen of its own with Back): the
 * root, its replies oldest first with more loaded on demand, follow/unfollow, and a composer
 * that replies in the thread (Enter sends, Shift+Enter is a new line).
 */
import { useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import type { Message, User } from '../../../client/index.js';
import { formatDateTime, formatTime } from '../format.js';
import { routeHash } from '../state/route.js';
import type { ThreadSession } from '../state/thread.js';
import { Attachments } from './Attachments.js';
import { Body } from './MessageRow.js';
import { ReactButton, ReactionChips } from './Reactions.js';

function ThreadMessage({ message, thread, me, testid }: { message: Message; thread: ThreadSession; me: User; testid: string }) {
  const toggle = (emoji: string, on: boolean) => thread.react(message.seq, emoji, on);
  return (
    <li class={message.author.id === me.id ? 'message mine' : 'message'} data-testid={testid} data-seq={message.seq}>
      <div class="meta">
        <span class="message-author" data-testid="message-author" title={`@${message.author.username}`}>
          {message.author.displayName}
        </span>
        <time dateTime={message.createdAt} title={formatDateTime(message.createdAt)}>
          {formatTime(message.createdAt)}
        </time>
        {!message.deleted && (
          <span class="message-actions" role="toolbar" aria-label="Message actions">
            <ReactButton reactions={message.reactions} onToggle={toggle} />
          </span>
        )}
      </div>
      {message.deleted ? (
        <p class="message-body" data-testid="message-body">
          message deleted
        </p>
      ) : (
        <Body message={message} me={me} />
      )}
      {!message.deleted && <Attachments attachments={message.attachments} />}
      {!message.deleted && <ReactionChips reactions={message.reactions} onToggle={toggle} />}
    </li>
  );
}

export function ThreadPanel({ thread, me }: { thread: ThreadSession; me: User }) {
  const text = useSignal('');
  const input = useRef<HTMLTextAreaElement>(null);
  const root = thread.root.value;
  const replies = thread.replies.value;
  const following = thread.following.value;
  const roomHash = routeHash({ name: 'room', roomId: thread.roomId, seq: null });

  useEffect(() => {
    if (!matchMedia('(max-width: 640px)').matches) input.current?.focus();
  }, [thread]);

  const send = () => {
    const body = text.value;
    if (body.trim() === '') return;
    text.value = '';
    void thread.send(body).then((sent) => {
      if (!sent && text.value === '') text.value = body;
    });
  };

  return (
    <section class="thread-panel" aria-label="Thread" data-testid="thread-panel">
      <header class="thread-header">
        <a class="back" href={roomHash} aria-label="Back to the room" data-testid="thread-back">
          ‹
        </a>
        <h3>Thread</h3>
        {following !== null && (
          <button type="button" class="secondary small" aria-pressed={following} onClick={() => void thread.setFollowing(!following)} data-testid="thread-follow">
            {following ? 'Unfollow' : 'Follow'}
          </button>
        )}
        <a class="close" href={roomHash} aria-label="Close the thread" data-testid="thread-close">
          ×
        </a>
      </header>
      <ol class="thread-messages" aria-label="Thread messages">
        {root !== null && <ThreadMessage message={root} thread={thread} me={me} testid="thread-root" />}
        {root !== null && (
          <li class="thread-count" data-testid="thread-count">
            {(root.replyCount ?? 0) === 1 ? '1 reply' : `${root.replyCount ?? 0} replies`}
          </li>
        )}
        {replies.map((reply) => (
          <ThreadMessage key={reply.seq} message={reply} thread={thread} me={me} testid="thread-reply" />
        ))}
        {!thread.hasMore.value &&
          thread.sending.value
            .filter((p) => !p.arrived)
            .map((p) => (
          // Mine, on its way: shown at once, dimmed, until the server has it (then it is a reply above).
          <li key={p.id} class="message pending" aria-busy="true" data-testid="thread-sending">
            <div class="message-body">{p.body}</div>
            <span class="hint">Sending…</span>
          </li>
        ))}
        {thread.loading.value && <li class="thread-count">Loading…</li>}
        {thread.hasMore.value && !thread.loading.value && (
          <li>
            <button type="button" class="secondary small" onClick={() => void thread.loadMore()} data-testid="thread-more">
              Load more replies
            </button>
          </li>
        )}
      </ol>
      <p class="error" role="alert" data-testid="thread-error">
        {thread.error.value}
      </p>
      <form
        class="composer thread-composer"
        onSubmit={(event) => {
          event.preventDefault();
          send();
        }}
      >
        <textarea
          ref={input}
          rows={2}
          maxLength={4000}
          placeholder="Reply in thread"
          aria-label="Reply in thread"
          value={text.value}
          onInput={(event) => {
            text.value = event.currentTarget.value;
          }}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
              event.preventDefault();
              send();
            }
          }}
          data-testid="thread-composer"
        />
        <button type="submit" data-testid="thread-send">
          Send
        </button>
      </form>
    </section>
  );
}

