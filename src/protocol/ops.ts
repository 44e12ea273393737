/** The ops a client may send over the WebSocket (PROTOCOL.md), one schema each in schemas.ts. */
export const CLIENT_OPS = ['subscribe', 'unsubscribe', 'send', 'edit', 'delete', 'read', 'react', 'unreact', 'typing', 'ping'] as const;

export type ClientOp = (typeof CLIENT_OPS)[number];
