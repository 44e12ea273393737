/** The web client's entry: resumes the session from its cookie, or asks to sign in. */
import { ParleyClient, ParleyError, type User } from '../../client/index.js';
import { AppView } from './app-view.js';
import { authView } from './auth-view.js';
import { describeError, h, replaceChildren } from './dom.js';

const root = document.getElementById('app');
if (root === null) throw new Error('index.html has no #app element');
const mount: HTMLElement = root;

/** A fresh client per session: nothing of a previous user's subscriptions carries over. */
const newClient = () => new ParleyClient({ baseUrl: location.origin });

function showAuth(): void {
  const client = newClient();
  replaceChildren(mount, authView(client, (user) => void showApp(client, user)));
  mount.querySelector<HTMLInputElement>('[data-testid="username"]')?.focus();
}

async function showApp(client: ParleyClient, user: User): Promise<void> {
  const app = new AppView({ client, me: user, onSignedOut: showAuth });
  replaceChildren(mount, app.element);
  try {
    await app.start();
  } catch (error) {
    if (error instanceof ParleyError && error.code === 'unauthorized') {
      await client.close();
      showAuth();
      return;
    }
    app.element.prepend(h('p', { class: 'error banner', role: 'alert' }, `Parley could not load your rooms: ${describeError(error)}`));
  }
}

async function boot(): Promise<void> {
  const client = newClient();
  let user: User;
  try {
    user = await client.rest.me();
  } catch (error) {
    if (error instanceof ParleyError && error.code === 'unauthorized') showAuth();
    else replaceChildren(mount, h('p', { class: 'error pane-message', role: 'alert' }, `Parley is unreachable: ${describeError(error)}`));
    return;
  }
  await showApp(client, user);
}

// A file dropped where nothing takes it would replace the app with the file: nothing happens instead.
for (const type of ['dragover', 'drop'] as const) {
  window.addEventListener(type, (event) => {
    if (event.defaultPrevented || event.dataTransfer?.types.includes('Files') !== true) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'none';
  });
}

void boot();
