/**
 * The one codec of the bus between Parley processes: every message any node publishes or
 * receives is encoded and decoded here, with types.
 *
 * A message is a header line, then (for what is written to clients) the client frame's JSON,
 * which receivers forward to sockets byte for byte:
 *
 *   E <seq> <kind> <actor id> <target|->\n<frame>   a stream event of a room
 *   T <actor id>\n<frame>                           typing in a room (not echoed to the typist)
 *   P\n<frame>                                      a member came online or went offline (the
 *                                                   `presence` client frame; receivers read its
 *                                                   userId and online)
 *   F[ <room id>]\n<frame>                          a frame for every connection of a user; with a
 *                                                   room id, the user's membership of it ended
 *   R <token hash>                                  a session was revoked: close its connections
 *   {"roomId","userId","joined","seq"}              a member joined or left at seq (JSON, the
 *                                                   form the previous release reads as "drop
 *                                                   what is cached"; it also sent `M <room> <user>`)
 *   C <JSON array of keys>                          shared-cache keys invalidated
 *   N <n>                                           a node's liveness probe
 *   X <room id> <seq>                               retention tombstoned the room's messages up
 *                                                   to seq: forget what is kept of them
 *
 * Receivers read the header without parsing the frame, so a node pays for no JSON parse of an
 * event it only forwards. Ids are Parley's own (base64url), never user input, so they hold no
 * space or newline; the encoder refuses any that would. A payload in the earlier all-JSON form is
 * still decoded, so nodes of the previous release can share a bus during a rolling upgrade.
 * `decode*` return null for anything malformed: the bus is shared, so a bad message is dropped
 * (and reported by the caller), never thrown into a handler.
 */
import type { EventKind } from '../domain/types.js';

export type RoomMessage =
  | { type: 'event'; seq: number; kind: EventKind; userId: string; target: number | null; frame: string }
  | { type: 'typing'; userId: string; frame: string }
  | { type: 'presence'; roomId: string; userId: string; online: boolean };

export type UserMessage = { type: 'frame'; frame: string; removedRoomId: string | null } | { type: 'revoke'; tokenHash: string };

export interface MembershipMessage {
  roomId: string;
  userId: string;
  /** Joined (true) or left (false) at `seq`; null in messages of the earlier form (drop what is cached). */
  change: { joined: boolean; seq: number } | null;
}

const KINDS: ReadonlySet<string> = new Set<EventKind>(['message', 'edit', 'delete', 'member_joined', 'member_left', 'reaction_added', 'reaction_removed']);

function token(value: string, what: string): string {
  if (value === '' || /[\s]/.test(value)) throw new Error(`bus codec: ${what} "${value}" cannot be encoded`);
  return value;
}

/** Splits `head\nbody`; body is '' when there is no newline. */
function split(payload: string): [string, string] {
  const nl = payload.indexOf('\n');
  return nl < 0 ? [payload, ''] : [payload.slice(0, nl), payload.slice(nl + 1)];
}

const seqOf = (raw: string | undefined): number | null => {
  if (raw === undefined || !/^\d{1,16}$/.test(raw)) return null;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : null;
};

function parseJson(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

export function encodeRoom(message: RoomMessage): string {
  switch (message.type) {
    case 'event':
      return `E ${message.seq} ${message.kind} ${token(message.userId, 'user id')} ${message.target ?? '-'}\n${message.frame}`;
    case 'typing':
      return `T ${token(message.userId, 'user id')}\n${message.frame}`;
    case 'presence':
      // The client frame, as the previous release sent and forwards it.
      return `P\n${JSON.stringify({ type: 'presence', roomId: message.roomId, userId: message.userId, online: message.online })}`;
  }
}

export function decodeRoom(payload: string): RoomMessage | null {
  if (payload.startsWith('{')) return decodeLegacyRoom(payload);
  const [head, frame] = split(payload);
  const parts = head.split(' ');
  switch (parts[0]) {
    case 'E': {
      const seq = seqOf(parts[1]);
      const kind = parts[2];
      const userId = parts[3];
      const target = parts[4] === '-' ? null : seqOf(parts[4]);
      if (parts.length !== 5 || seq === null || kind === undefined || !KINDS.has(kind) || userId === undefined || userId === '' || (target === null && parts[4] !== '-') || frame === '') return null;
      return { type: 'event', seq, kind: kind as EventKind, userId, target, frame };
    }
    case 'T':
      return parts.length === 2 && parts[1] !== '' && frame !== '' ? { type: 'typing', userId: parts[1] as string, frame } : null;
    case 'P':
      return parts.length === 1 && frame !== '' ? decodeLegacyRoom(frame) : null;
    default:
      return null;
  }
}

function decodeLegacyRoom(payload: string): RoomMessage | null {
  const frame = parseJson(payload);
  if (frame === null) return null;
  const user = frame.user as { id?: unknown } | undefined;
  if (frame.type === 'event') {
    const seq = typeof frame.seq === 'number' && Number.isSafeInteger(frame.seq) ? frame.seq : null;
    const kind = typeof frame.kind === 'string' && KINDS.has(frame.kind) ? (frame.kind as EventKind) : null;
    if (seq === null || kind === null || typeof user?.id !== 'string') return null;
    return { type: 'event', seq, kind, userId: user.id, target: typeof frame.target === 'number' ? frame.target : null, frame: payload };
  }
  if (frame.type === 'typing' && typeof user?.id === 'string') return { type: 'typing', userId: user.id, frame: payload };
  if (frame.type === 'presence') {
    const { roomId, userId, online } = frame;
    return typeof roomId === 'string' && typeof userId === 'string' && typeof online === 'boolean' ? { type: 'presence', roomId, userId, online } : null;
  }
  return null;
}

export function encodeUser(message: UserMessage): string {
  if (message.type === 'revoke') return `R ${token(message.tokenHash, 'token hash')}`;
  return message.removedRoomId === null ? `F\n${message.frame}` : `F ${token(message.removedRoomId, 'room id')}\n${message.frame}`;
}

export function decodeUser(payload: string): UserMessage | null {
  if (payload.startsWith('{')) {
    const frame = parseJson(payload);
    if (frame === null) return null;
    if (frame.type === '_revoke') return typeof frame.tokenHash === 'string' ? { type: 'revoke', tokenHash: frame.tokenHash } : null;
    return { type: 'frame', frame: payload, removedRoomId: frame.type === 'room_removed' && typeof frame.roomId === 'string' ? frame.roomId : null };
  }
  const [head, frame] = split(payload);
  const parts = head.split(' ');
  if (parts[0] === 'R') return parts.length === 2 && parts[1] !== '' ? { type: 'revoke', tokenHash: parts[1] as string } : null;
  if (parts[0] === 'F' && frame !== '') {
    if (parts.length === 1) return { type: 'frame', frame, removedRoomId: null };
    if (parts.length === 2 && parts[1] !== '') return { type: 'frame', frame, removedRoomId: parts[1] as string };
  }
  return null;
}

export function encodeMembership(message: MembershipMessage): string {
  const ids = { roomId: token(message.roomId, 'room id'), userId: token(message.userId, 'user id') };
  if (message.change === null) return `M ${ids.roomId} ${ids.userId}`;
  // JSON, which the previous release also reads (as a change of the pair, whatever it was).
  return JSON.stringify({ ...ids, joined: message.change.joined, seq: message.change.seq });
}

export function decodeMembership(payload: string): MembershipMessage | null {
  if (payload.startsWith('{')) {
    const m = parseJson(payload);
    if (m === null || typeof m.roomId !== 'string' || typeof m.userId !== 'string' || m.roomId === '' || m.userId === '') return null;
    const seq = typeof m.seq === 'number' && Number.isSafeInteger(m.seq) && m.seq >= 0 ? m.seq : null;
    const change = typeof m.joined === 'boolean' && seq !== null ? { joined: m.joined, seq } : null;
    return { roomId: m.roomId, userId: m.userId, change };
  }
  const parts = payload.split(' ');
  if (parts[0] !== 'M' || parts[1] === undefined || parts[1] === '' || parts[2] === undefined || parts[2] === '') return null;
  const ids = { roomId: parts[1], userId: parts[2] };
  return parts.length === 3 ? { ...ids, change: null } : null;
}

export function encodeCacheKeys(keys: string[]): string {
  return `C ${JSON.stringify(keys)}`;
}

export function decodeCacheKeys(payload: string): string[] | null {
  const json = payload.startsWith('C ') ? payload.slice(2) : payload.startsWith('[') ? payload : null;
  if (json === null) return null;
  try {
    const keys: unknown = JSON.parse(json);
    return Array.isArray(keys) && keys.every((k) => typeof k === 'string') ? (keys as string[]) : null;
  } catch {
    return null;
  }
}

export interface PurgeMessage {
  roomId: string;
  throughSeq: number;
}

export function encodePurge(message: PurgeMessage): string {
  if (/\s/.test(message.roomId) || !Number.isSafeInteger(message.throughSeq)) throw new Error('bad purge message');
  return `X ${message.roomId} ${message.throughSeq}`;
}

export function decodePurge(payload: string): PurgeMessage | null {
  const [tag, roomId, seq, ...rest] = payload.split(' ');
  const throughSeq = seqOf(seq);
  if (tag !== 'X' || roomId === undefined || roomId === '' || throughSeq === null || rest.length > 0) return null;
  return { roomId, throughSeq };
}

export function encodeProbe(n: number): string {
  return `N ${n}`;
}

export function decodeProbe(payload: string): number | null {
  return seqOf(payload.startsWith('N ') ? payload.slice(2) : payload);
}
