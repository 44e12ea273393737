/**
 * Where the page is, in its URL: every room and message has an address that survives a reload
 * and the Back button. The address lives in the fragment (`#/rooms/<id>`, `#/rooms/<id>/<seq>`,
 * `#/rooms/<id>/thread/<seq>`, `#/search?q=…`, `#/admin`), so the server serves one page for all of them and nothing of it reaches the
 * server's logs.
 */
import { signal } from '@preact/signals';

export type Route =
  | { name: 'home' }
  | { name: 'room'; roomId: string; seq: number | null }
  /** A room with the thread of its message `root` open beside it. */
  | { name: 'thread'; roomId: string; root: number }
  | { name: 'search'; q: string }
  | { name: 'signup' }
  /** The server administrators' page. */
  | { name: 'admin' };

/** The route a fragment names; anything unknown is home. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#\/?/, '');
  const [head = '', query = ''] = path.split('?', 2);
  const parts = head.split('/').filter((p) => p !== '');
  if (parts[0] === 'rooms' && parts[1] !== undefined && parts[2] === 'thread' && parts.length === 4) {
    const root = Number(parts[3]);
    if (Number.isSafeInteger(root) && root > 0) return { name: 'thread', roomId: decodeURIComponent(parts[1]), root };
  }
  if (parts[0] === 'rooms' && parts[1] !== undefined && parts.length <= 3) {
    const roomId = decodeURIComponent(parts[1]);
    const seq = parts[2] === undefined ? null : Number(parts[2]);
    if (seq === null || (Number.isSafeInteger(seq) && seq > 0)) return { name: 'room', roomId, seq };
  }
  if (parts[0] === 'search' && parts.length === 1) return { name: 'search', q: new URLSearchParams(query).get('q') ?? '' };
  if (parts[0] === 'signup' && parts.length === 1) return { name: 'signup' };
  if (parts[0] === 'admin' && parts.length === 1) return { name: 'admin' };
  return { name: 'home' };
}

/** The fragment of a route (with its `#`). */
export function routeHash(route: Route): string {
  switch (route.name) {
    case 'home':
      return '#/';
    case 'room':
      return `#/rooms/${encodeURIComponent(route.roomId)}${route.seq === null ? '' : `/${route.seq}`}`;
    case 'thread':
      return `#/rooms/${encodeURIComponent(route.roomId)}/thread/${route.root}`;
    case 'search':
      return `#/search?${new URLSearchParams({ q: route.q })}`;
    case 'signup':
      return '#/signup';
    case 'admin':
      return '#/admin';
  }
}

/** The full URL of a message, to share. */
export function messageUrl(roomId: string, seq: number): string {
  return `${location.origin}${location.pathname}${routeHash({ name: 'room', roomId, seq })}`;
}

export const route = signal<Route>(parseRoute(location.hash));

window.addEventListener('hashchange', () => {
  route.value = parseRoute(location.hash);
});

/** Goes to a route: a new history entry, or with `replace` the current one changed. */
export function navigate(to: Route, options: { replace?: boolean } = {}): void {
  const hash = routeHash(to);
  if (location.hash === hash || (hash === '#/' && location.hash === '')) {
    route.value = to;
    return;
  }
  if (options.replace === true) {
    history.replaceState(history.state, '', hash);
    route.value = to;
  } else {
    location.hash = hash;
  }
}
