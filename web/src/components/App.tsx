/**
 * The signed-in app: the sidebar (me, the connection, my rooms, people, search, discovery, the
 * way to the administration page) and the main pane (the open room, search results, the
 * administration page, or a hint). On a phone the two are separate
 * screens: the room list, and the room with a way back to it.
 */
import { useSignal } from '@preact/signals';
import { describeError } from '../format.js';
import type { AppState } from '../state/app.js';
import { route } from '../state/route.js';
import { AdminPage } from './admin/AdminPage.js';
import { ConnectionStatus } from './ConnectionStatus.js';
import { CreateRoom } from './CreateRoom.js';
import { DirectMessage } from './DirectMessage.js';
import { Discover } from './Discover.js';
import { NotificationBell } from './NotificationBell.js';
import { NotificationOffer } from './NotificationOffer.js';
import { Profile } from './Profile.js';
import { RoomList } from './RoomList.js';
import { RoomPane } from './RoomPane.js';
import { SearchBox, SearchResults } from './Search.js';

export interface AppProps {
  app: AppState;
  /** Why the app could not start, if it could not. */
  loadError: string;
}

export function App({ app, loadError }: AppProps) {
  const current = route.value;
  const open = app.open.value;
  const loggingOut = useSignal(false);
  const screen = current.name === 'home' ? 'rooms' : 'main';

  const logout = () => {
    loggingOut.value = true;
    app.api
      .logout()
      .then(() => app.signOut())
      .catch((error: unknown) => {
        loggingOut.value = false;
        app.error.value = `Could not log out: ${describeError(error)}`;
      });
  };

  // On a phone the main pane is a screen of its own: each of its states has a way back.
  const back = (
    <a class="back" href="#/" aria-label="Back to rooms">
      ‹
    </a>
  );
  let main = (
    <p class="pane-message" data-testid="empty-pane">
      {back}
      Pick a room on the left, or create one.
    </p>
  );
  if (current.name === 'search') main = <SearchResults app={app} q={current.q} />;
  else if (current.name === 'admin') main = <AdminPage app={app} />;
  else if (open !== null) main = <RoomPane key={open.roomId} app={app} session={open} />;
  else if (app.openError.value !== '')
    main = (
      <p class="error pane-message" role="alert" data-testid="open-error">
        {back}
        {app.openError.value}
      </p>
    );

  return (
    <div class="app" data-screen={screen}>
      {loadError !== '' && (
        <p class="error banner" role="alert">
          {loadError}
        </p>
      )}
      <aside class="sidebar" aria-label="Rooms and people">
        <header class="me">
          <Profile app={app} />
          <NotificationBell notifications={app.notifications} />
          <button type="button" class="secondary small" disabled={loggingOut.value} onClick={logout} data-testid="logout">
            Log out
          </button>
        </header>
        <ConnectionStatus app={app} />
        <p class="error" role="alert">
          {app.error.value}
        </p>
        <SearchBox />
        <RoomList app={app} />
        <CreateRoom app={app} />
        <DirectMessage app={app} />
        <Discover app={app} />
        {/* For server administrators (the page itself says so to anyone else who opens its address). */}
        {app.me.serverRole === 'admin' && (
          <a class="admin-link" href="#/admin" aria-current={current.name === 'admin' ? 'page' : undefined} data-testid="admin-link">
            Administration
          </a>
        )}
      </aside>
      <main class="main">
        <NotificationOffer />
        {main}
      </main>
      <div class="visually-hidden" aria-live="polite" data-testid="announcer">
        {app.announcement.value}
      </div>
    </div>
  );
}
