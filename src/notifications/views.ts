/** Notification records → their wire shape, in one place for REST, WebSocket and e-mail. */
import type { NotificationRecord } from '../domain/types.js';
import { userView } from '../domain/views.js';
import type { Notification } from '../protocol/wire.js';

/** Code points of a message shown in a notification. */
export const EXCERPT_MAX = 200;

/** The start of a body, at most EXCERPT_MAX code points, an ellipsis when cut. */
export function excerpt(body: string): string {
  const points = [...body];
  return points.length <= EXCERPT_MAX ? body : `${points.slice(0, EXCERPT_MAX - 1).join('')}…`;
}

export const notificationView = (n: NotificationRecord, readUpTo: number): Notification => ({
  id: String(n.id),
  kind: n.kind,
  roomId: n.roomId,
  roomName: n.roomName,
  seq: n.seq,
  author: userView(n.actor),
  excerpt: excerpt(n.body),
  createdAt: new Date(n.createdAt).toISOString(),
  read: n.id <= readUpTo,
});
