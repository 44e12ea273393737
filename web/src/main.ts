/** The web client: resumes the session from its cookie, or asks to sign in. */
import { ParleyClient, ParleyError } from '../../client/index.js';
import type { User } from '../../src/protocol/wire.js';
import { AppView } from './app-view.js';
import { authView } from './auth-view.js';
import { clear, describeError, h } from './dom.js';

const root = document.getElementById('app') as HTMLElement;
let client = new ParleyClient({ baseUrl: location.origin });

function showAuth(): void {
  clear(root);
  client = new ParleyClient({ baseUrl: location.origin });
  root.append(authView(client, (user) => void showApp(user)));
}

async function showApp(user: User): Promise<void> {
  clear(root);
  const app = new AppView(client, user, showAuth);
  root.append(app.element);
  try {
    await app.start();
  } catch (error) {
    root.append(h('p', { class: 'error', role: 'alert' }, describeError(error)));
  }
}

async function boot(): Promise<void> {
  try {
    await showApp(await client.rest.me());
  } catch (error) {
    if (error instanceof ParleyError && error.code === 'unauthorized') showAuth();
    else {
      clear(root);
      root.append(h('p', { class: 'error', role: 'alert' }, `Parley is unreachable: ${describeError(error)}`));
    }
  }
}

void boot();
