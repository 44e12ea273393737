/**
 * The minimal standard WebSocket surface the SDK uses, so both the browser's `WebSocket` and
 * Node's `ws` (its default export) fit without an adapter, and the URL of Parley's socket.
 */

/**
 * A handler type checked like a method (bivariantly), so `ws`'s handlers, typed with its own
 * event classes, and the DOM's, typed with DOM events, are both assignable to it.
 */
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'];

export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** `WebSocket` in browsers; in Node 20, `import WebSocket from 'ws'`. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export const WS_OPEN = 1;

/**
 * `ws(s)://host[/prefix]/ws[?token=…]` from the HTTP base URL. Without a token the browser's
 * cookie authenticates the upgrade.
 */
export function webSocketUrl(baseUrl: string, token: string | null): string {
  const url = new URL(baseUrl);
  if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol === 'http:') url.protocol = 'ws:';
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/ws`;
  url.search = '';
  url.hash = '';
  if (token !== null) url.searchParams.set('token', token);
  return url.toString();
}
