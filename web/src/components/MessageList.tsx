/**
 * The scrolling list of the open room: the history edge, the rows, the "new messages" divider
 * above the first message I had not read when I opened the room. After each render it applies
 * what the room session asked of the scroll position (stay at the bottom, keep the reader in
 * place above a page loaded on top, or bring one message or the divider into view).
 */
import { useLayoutEffect, useRef } from 'preact/hooks';
import type { User } from '../../../client/index.js';
import type { RoomSession } from '../state/room.js';
import { MessageRow, type RowActions } from './MessageRow.js';

const EDGE_TEXT = { more: '', loading: 'Loading older messages…', start: 'This is the beginning of the room.', empty: 'No messages yet. Say hello!' };

export function MessageList({ session, me, canModerate, actions }: { session: RoomSession; me: User; canModerate: boolean; actions: RowActions }) {
  const ref = useRef<HTMLOListElement>(null);
  const timeline = session.timeline;
  const rows = timeline.rows.value;
  const edge = timeline.edge.value;
  const intent = session.scroll.value;

  useLayoutEffect(() => {
    session.attach(ref.current);
    return () => session.attach(null);
  }, [session]);

  useLayoutEffect(() => {
    const el = ref.current;
    if (el === null || intent === null) return;
    session.scroll.value = null;
    switch (intent.to) {
      case 'bottom':
        el.scrollTop = el.scrollHeight;
        break;
      case 'keep':
        el.scrollTop = el.scrollHeight - intent.fromBottom;
        break;
      case 'message':
        el.querySelector(`:scope > [data-seq="${intent.seq}"]`)?.scrollIntoView({ block: 'center' });
        break;
      case 'divider':
        el.querySelector(':scope > .unread-divider')?.scrollIntoView({ block: 'start' });
        break;
    }
  }, [rows, intent]);

  const after = session.unreadAfter;
  let dividerAt: string | null = null;
  if (after !== null) {
    const index = rows.findIndex((row) => row.type === 'message' && row.seq > after && row.message.author.id !== me.id);
    const previous = rows[index - 1];
    // Only where the read part is loaded above it: a page that starts among the unread has no divider yet.
    const readAbove = (previous !== undefined && previous.type !== 'pending' && previous.seq <= after) || edge === 'start';
    if (index !== -1 && readAbove) dividerAt = rows[index]?.key ?? null;
  }

  return (
    <ol ref={ref} class="message-list" aria-label="Messages" onScroll={() => session.scrolled()} data-testid="message-list">
      <li class="history-edge" data-state={edge} data-testid="history-edge">
        {EDGE_TEXT[edge]}
      </li>
      {rows.flatMap((row) => {
        const item = <MessageRow key={row.key} row={row} session={session} me={me} canModerate={canModerate} actions={actions} />;
        if (row.key !== dividerAt) return [item];
        const divider = (
          <li key="unread-divider" class="unread-divider" data-testid="unread-divider">
            <span>New messages</span>
          </li>
        );
        return [divider, item];
      })}
    </ol>
  );
}
