/** The web client's entry: resumes the session from its cookie, or asks to sign in. */
import { signal } from '@preact/signals';
import { render } from 'preact';
import { ParleyClient, ParleyError, type User } from '../../client/index.js';
import { Api } from './api.js';
import { App } from './components/App.js';
import { Auth } from './components/Auth.js';
import { describeError } from './format.js';
import { AppState } from './state/app.js';

/** How often the socket is pinged, and how long a pong may take: a lost connection shows within seconds. */
const PING_INTERVAL_MS = 4_000;
const PONG_TIMEOUT_MS = 3_000;

type Screen = { name: 'loading' } | { name: 'auth'; api: Api } | { name: 'app'; app: AppState; loadError: string } | { name: 'unreachable'; error: string };

const screen = signal<Screen>({ name: 'loading' });

/** A fresh client (and API over it) per session: nothing of a previous user's subscriptions carries over. */
const newApi = () => new Api(new ParleyClient({ baseUrl: location.origin, pingIntervalMs: PING_INTERVAL_MS, pongTimeoutMs: PONG_TIMEOUT_MS }));

function showAuth(): void {
  screen.value = { name: 'auth', api: newApi() };
}

async function showApp(api: Api, user: User): Promise<void> {
  const app = new AppState(api, user, showAuth);
  screen.value = { name: 'app', app, loadError: '' };
  try {
    await app.start();
  } catch (error) {
    if (error instanceof ParleyError && error.code === 'unauthorized') {
      await app.signOut();
      return;
    }
    screen.value = { name: 'app', app, loadError: `Parley could not load your rooms: ${describeError(error)}` };
  }
}

function Root() {
  const current = screen.value;
  switch (current.name) {
    case 'loading':
      return null;
    case 'auth':
      return <Auth api={current.api} onSignedIn={(user) => void showApp(current.api, user)} />;
    case 'app':
      return <App app={current.app} loadError={current.loadError} />;
    case 'unreachable':
      return (
        <p class="error pane-message" role="alert">
          Parley is unreachable: {current.error}
        </p>
      );
  }
}

async function boot(): Promise<void> {
  const api = newApi();
  let user: User;
  try {
    user = await api.me();
  } catch (error) {
    if (error instanceof ParleyError && error.code === 'unauthorized') screen.value = { name: 'auth', api };
    else screen.value = { name: 'unreachable', error: describeError(error) };
    return;
  }
  await showApp(api, user);
}

// A file dropped where nothing takes it would replace the app with the file: nothing happens instead.
for (const type of ['dragover', 'drop'] as const) {
  window.addEventListener(type, (event) => {
    if (event.defaultPrevented || event.dataTransfer?.types.includes('Files') !== true) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'none';
  });
}

const root = document.getElementById('app');
if (root === null) throw new Error('index.html has no #app element');
render(<Root />, root);
void boot();
