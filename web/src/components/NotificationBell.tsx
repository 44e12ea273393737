/**
 * The bell: my unread notifications, opening the list of them. An item is a link to the message
 * (#/rooms/<id>/<seq>); following it marks it read and closes the list, as Escape does.
 */
import { useRef } from 'preact/hooks';
import { formatDateTime } from '../format.js';
import type { NotificationsState } from '../state/notifications.js';
import { routeHash } from '../state/route.js';

const KIND_TEXT = {
  mention: 'mentioned you',
  room_mention: 'mentioned the room',
  message: 'wrote',
  thread_reply: 'replied in a thread',
} as const;

export function NotificationBell({ notifications }: { notifications: NotificationsState }) {
  const unread = notifications.unread.value;
  const count = `${unread}${notifications.capped.value ? '+' : ''}`;
  const expanded = notifications.expanded.value;
  const items = notifications.items.value;
  const bell = useRef<HTMLButtonElement>(null);
  const list = useRef<HTMLElement>(null);
  return (
    <div class="bell">
      <button
        type="button"
        class="secondary small bell-button"
        aria-expanded={expanded}
        aria-controls="notification-list"
        aria-label={unread === 0 ? 'Notifications, none unread' : `Notifications, ${count} unread`}
        ref={bell}
        onClick={() => void notifications.toggle()}
        onKeyDown={(event) => {
          if (event.key === 'Escape') notifications.close();
        }}
        data-testid="bell"
      >
        <span aria-hidden="true">🔔</span>
        {unread > 0 && (
          <span class="badge" data-testid="bell-count">
            {count}
          </span>
        )}
      </button>
      {expanded && (
        <section
          id="notification-list"
          ref={list}
          class="notification-list"
          aria-label="Notifications"
          onKeyDown={(event) => {
            if (event.key !== 'Escape') return;
            notifications.close();
            bell.current?.focus();
          }}
          data-testid="notification-list"
        >
          <p class="error" role="alert">
            {notifications.error.value}
          </p>
          {items !== null && items.length === 0 && <p class="hint">No notifications yet.</p>}
          <ul>
            {(items ?? []).map((n) => (
              <li key={n.id}>
                <a
                  href={routeHash({ name: 'room', roomId: n.roomId, seq: n.seq })}
                  class="notification"
                  data-read={n.read ? 'true' : 'false'}
                  data-testid="notification"
                  onClick={() => {
                    void notifications.markRead(n);
                    notifications.close();
                  }}
                >
                  <span class="notification-head">
                    <strong>{n.author.displayName}</strong> {KIND_TEXT[n.kind]} in {n.roomName}
                  </span>
                  <span class="notification-excerpt">{n.excerpt === '' ? '(deleted)' : n.excerpt}</span>
                  <time class="notification-time" dateTime={n.createdAt}>
                    {formatDateTime(n.createdAt)}
                  </time>
                </a>
              </li>
            ))}
          </ul>
          {notifications.hasMore.value && (
            <button
              type="button"
              class="secondary small"
              // aria-disabled, not disabled: the button keeps the focus (and Escape still closes the list).
              aria-disabled={notifications.loadingMore.value}
              onClick={() => {
                const shown = items?.length ?? 0;
                void notifications.loadOlder().then(() => {
                  // The first of those just listed takes the focus (the button may be gone), once rendered.
                  setTimeout(() => list.current?.querySelectorAll<HTMLElement>('[data-testid="notification"]')[shown]?.focus(), 0);
                });
              }}
              data-testid="notifications-older"
            >
              {notifications.loadingMore.value ? 'Loading…' : 'Show older'}
            </button>
          )}
        </section>
      )}
    </div>
  );
}
