/**
 * The rooms I am in, with their unread counts, and which one is open. Plain data and rules, no
 * DOM: the views render it and re-render when it changes.
 */
import type { MemberRoom, Room, StreamEvent } from '../../client/index.js';

export type Listener = () => void;

/** The room with nothing unread (and no longer capped: the server's "999+" is read too). */
function cleared(room: MemberRoom): MemberRoom {
  const { unreadCapped: _capped, ...rest } = room;
  return { ...rest, unread: 0 };
}

/** The unread badge's text: the count, with "+" when the server stopped counting (unreadCapped). */
export function unreadLabel(room: Pick<MemberRoom, 'unread' | 'unreadCapped'>): string {
  return room.unreadCapped === true ? `${room.unread}+` : String(room.unread);
}

export class RoomsState {
  readonly #meId: string;
  readonly #rooms = new Map<string, MemberRoom>();
  readonly #listeners = new Set<Listener>();
  #openId: string | null = null;

  constructor(meId: string) {
    this.#meId = meId;
  }

  /** Calls `listener` after every change; returns the function that stops it. */
  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get openId(): string | null {
    return this.#openId;
  }

  get(roomId: string): MemberRoom | undefined {
    return this.#rooms.get(roomId);
  }

  has(roomId: string): boolean {
    return this.#rooms.has(roomId);
  }

  ids(): string[] {
    return [...this.#rooms.keys()];
  }

  /** My rooms by name, for the sidebar. */
  sorted(): MemberRoom[] {
    return [...this.#rooms.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  /** Replaces everything with the server's list (GET /rooms). */
  load(rooms: MemberRoom[]): void {
    this.#rooms.clear();
    for (const room of rooms) this.#rooms.set(room.id, room.id === this.#openId ? cleared(room) : { ...room });
    if (this.#openId !== null && !this.#rooms.has(this.#openId)) this.#openId = null;
    this.#changed();
  }

  /**
   * A room I just created or joined, or one I was added to: nothing in it is unread for me yet.
   * Returns false when it was already known.
   */
  add(room: Room): boolean {
    const known = this.#rooms.get(room.id);
    if (known !== undefined) {
      known.lastSeq = Math.max(known.lastSeq, room.lastSeq);
      this.#changed();
      return false;
    }
    this.#rooms.set(room.id, { ...room, lastReadSeq: room.lastSeq, unread: 0 });
    this.#changed();
    return true;
  }

  remove(roomId: string): void {
    if (!this.#rooms.delete(roomId)) return;
    if (this.#openId === roomId) this.#openId = null;
    this.#changed();
  }

  /** Opens a room (or none); its unread count is cleared. */
  open(roomId: string | null): void {
    this.#openId = roomId !== null && this.#rooms.has(roomId) ? roomId : null;
    const room = this.#openId === null ? undefined : this.#rooms.get(this.#openId);
    if (room !== undefined) this.#rooms.set(room.id, cleared(room));
    this.#changed();
  }

  /** A live stream event: a message from someone else in a room not open counts as unread. */
  onEvent(event: StreamEvent): void {
    const room = this.#rooms.get(event.roomId);
    if (room === undefined) return;
    room.lastSeq = Math.max(room.lastSeq, event.seq);
    if (event.kind !== 'message' || event.user.id === this.#meId || event.roomId === this.#openId || event.seq <= room.lastReadSeq) return;
    room.unread++;
    this.#changed();
  }

  /**
   * My read marker moved (here or on another of my connections). Everything up to the room's
   * newest event read means nothing unread; short of that the count is kept, as the messages
   * between are not known here.
   */
  markedRead(roomId: string, seq: number): void {
    const room = this.#rooms.get(roomId);
    if (room === undefined || seq <= room.lastReadSeq) return;
    room.lastReadSeq = seq;
    if (seq >= room.lastSeq) this.#rooms.set(roomId, cleared(room));
    this.#changed();
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
