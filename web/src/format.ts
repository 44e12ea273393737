/** Words and numbers for people: errors, times, sizes, room names, search highlights. No DOM, no state. */
import { ParleyError, type Room, type User } from '../../client/index.js';

/** The sentence to show for anything thrown by the SDK. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** Why a reaction was refused, in words: the message's bound on distinct emoji is the usual one. */
export function reactionRefusal(error: unknown): string {
  if (error instanceof ParleyError && error.details?.reason === 'too_many_reactions') return 'This message has as many different reactions as it can take: add one of those shown instead.';
  return `The reaction was not saved: ${describeError(error)}`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** The hour and minute of an ISO time, for a message row. */
export function formatTime(iso: string): string {
  return timeFormat.format(new Date(iso));
}

/** The full date and time of an ISO time, for a tooltip. */
export function formatDateTime(iso: string): string {
  return dateTimeFormat.format(new Date(iso));
}

const UNITS = ['KB', 'MB', 'GB', 'TB'];

/** A byte count for people: `512 B`, `1.4 MB`, `23 MB` (decimal units, as file managers show). */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  let value = bytes;
  let unit = 'B';
  for (const next of UNITS) {
    value /= 1000;
    unit = next;
    if (value < 1000) break;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

/**
 * How a room is named in lists and headings: `# name` (public), `🔒 name` (private), and for a
 * DM `@` and the other person's username (its stored name lists both usernames).
 */
export function roomLabel(room: Pick<Room, 'name' | 'visibility'>, me?: Pick<User, 'username'>): string {
  if (room.visibility === 'dm') {
    const others = room.name.split(', ').filter((name) => name !== me?.username);
    return `@ ${others.length === 0 ? room.name : others.join(', ')}`;
  }
  return room.visibility === 'private' ? `🔒 ${room.name}` : `# ${room.name}`;
}

/** "Bob is typing…", "Bob and Carol are typing…", or "Several people are typing…". */
export function typingText(names: readonly string[]): string {
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return names.length > 2 ? 'Several people are typing…' : '';
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&#x27;': "'" };

/**
 * The server's highlight (escaped text with <mark> around each match) as text and <mark>
 * elements: parsed here rather than given to innerHTML, so nothing else of it can become markup.
 */
export function highlightParts(highlight: string): Array<{ text: string; marked: boolean }> {
  const decode = (s: string) => s.replace(/&(?:amp|lt|gt|quot|#39|#x27);/g, (entity) => ENTITIES[entity] ?? entity);
  const parts: Array<{ text: string; marked: boolean }> = [];
  let marked = false;
  for (const piece of highlight.split(/(<\/?mark>)/)) {
    if (piece === '<mark>') marked = true;
    else if (piece === '</mark>') marked = false;
    else if (piece !== '') parts.push({ text: decode(piece), marked });
  }
  return parts;
}
