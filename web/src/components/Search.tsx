/**
 * Message search over my rooms: the box in the sidebar, the hits in the main pane with the
 * matched words marked, each a link to the message in its room (shown in context, highlighted),
 * or for a reply to its thread.
 * The search's address (`#/search?q=`) survives a reload like a room's.
 */
import { useSignal } from '@preact/signals';
import { useEffect } from 'preact/hooks';
import type { SearchHit } from '../../../client/index.js';
import { describeError, formatDateTime, formatTime, highlightParts, roomLabel } from '../format.js';
import type { AppState } from '../state/app.js';
import { navigate, route, routeHash } from '../state/route.js';

const LIMIT = 50;
/** Searches run again while the server is still indexing recent messages. */
const REINDEX_TRIES = 4;

/** Where a hit opens: a reply in its thread, any other message in its room. */
function hitHash(message: SearchHit['message']): string {
  if (message.threadRoot !== undefined) return routeHash({ name: 'thread', roomId: message.roomId, root: message.threadRoot });
  return routeHash({ name: 'room', roomId: message.roomId, seq: message.seq });
}

export function SearchBox() {
  const current = route.value;
  const q = useSignal(current.name === 'search' ? current.q : '');
  useEffect(() => {
    if (current.name === 'search') q.value = current.q;
  }, [current]);
  return (
    <form
      class="search"
      aria-label="Search messages"
      onSubmit={(event) => {
        event.preventDefault();
        const text = q.value.trim();
        if (text !== '') navigate({ name: 'search', q: text });
      }}
    >
      <input
        type="search"
        name="q"
        placeholder="Search messages"
        aria-label="Search messages"
        autocomplete="off"
        value={q.value}
        onInput={(e) => {
          q.value = e.currentTarget.value;
        }}
        data-testid="search-input"
      />
    </form>
  );
}

export function SearchResults({ app, q }: { app: AppState; q: string }) {
  const hits = useSignal<readonly SearchHit[] | null>(null);
  const truncated = useSignal(false);
  const indexing = useSignal(false);
  const error = useSignal('');
  useEffect(() => {
    let current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    hits.value = null;
    error.value = '';
    // Messages are indexed just after they are sent: while the server says some are not yet,
    // the search runs again a few times, so what was just sent shows up by itself.
    const run = (attempt: number) =>
      app.api.search(q, LIMIT).then(
        (result) => {
          if (!current) return;
          hits.value = result.hits;
          truncated.value = result.truncated;
          indexing.value = result.index.pending > 0;
          if (indexing.value && attempt < REINDEX_TRIES) timer = setTimeout(() => void run(attempt + 1), 400 * (attempt + 1));
        },
        (e: unknown) => {
          if (current && attempt === 0) error.value = `The search failed: ${describeError(e)}`;
        },
      );
    void run(0);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [q]);

  const list = hits.value;
  return (
    <section class="search-results" aria-labelledby="search-title" data-testid="search-results">
      <header class="room-header">
        <a class="back" href="#/" aria-label="Back to rooms">
          ‹
        </a>
        <h2 id="search-title">Messages matching “{q}”</h2>
      </header>
      <p class="error" role="alert">
        {error.value}
      </p>
      {list === null && error.value === '' && <p class="hint pane-message">Searching…</p>}
      {list?.length === 0 && <p class="pane-message">No message matches.</p>}
      {list !== null && list.length > 0 && (
        <ol class="hits">
          {list.map((hit) => {
            const room = app.rooms.get(hit.message.roomId);
            return (
              <li key={`${hit.message.roomId}:${hit.message.seq}`} class="hit" data-testid="search-hit">
                <a href={hitHash(hit.message)} class="hit-link">
                  <span class="meta">
                    <span class="hit-room">{room === undefined ? 'a room' : roomLabel(room, app.me)}</span>
                    <span class="message-author">{hit.message.author.displayName}</span>
                    <time dateTime={hit.message.createdAt} title={formatDateTime(hit.message.createdAt)}>
                      {formatTime(hit.message.createdAt)}
                    </time>
                  </span>
                  <span class="hit-text" data-testid="hit-text">
                    {highlightParts(hit.highlight).map((part, i) => (part.marked ? <mark key={i}>{part.text}</mark> : part.text))}
                  </span>
                </a>
              </li>
            );
          })}
        </ol>
      )}
      {truncated.value && <p class="hint">Older matches may exist: search within one room to find them.</p>}
      {indexing.value && <p class="hint">The newest messages are still being indexed and may be missing here.</p>}
    </section>
  );
}
