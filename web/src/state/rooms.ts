/**
 * The rooms I am in, with their unread counts, and which one is open: signals the components
 * read, and the rules that change them. Every change makes a new room object, so a component
 * sees a change by identity.
 */
import { computed, signal } from '@preact/signals';
import type { MemberRoom, Room, StreamEvent } from '../../../client/index.js';

/** The room with nothing unread (and no longer capped: the server's "999+" is read too). */
function cleared(room: MemberRoom): MemberRoom {
  const { unreadCapped: _capped, ...rest } = room;
  return { ...rest, unread: 0 };
}

/** The unread badge's text: the count, with "+" when the server stopped counting (unreadCapped). */
export function unreadLabel(room: Pick<MemberRoom, 'unread' | 'unreadCapped'>): string {
  return room.unreadCapped === true ? `${room.unread}+` : String(room.unread);
}

export class RoomsStore {
  readonly #meId: string;
  readonly #rooms = signal<ReadonlyMap<string, MemberRoom>>(new Map());
  /** The room shown in the main pane, or null. */
  readonly openId = signal<string | null>(null);
  /** False until the server's list arrived (a room named by the URL may just not be known yet). */
  readonly loaded = signal(false);
  /** My rooms by name, for the sidebar. */
  readonly sorted = computed(() => [...this.#rooms.value.values()].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id)));
  /** Unread messages over all my rooms, for the tab title; `capped` when one count is a floor. */
  readonly totalUnread = computed(() => {
    let count = 0;
    let capped = false;
    for (const room of this.#rooms.value.values()) {
      count += room.unread;
      capped ||= room.unreadCapped === true;
    }
    return { count, capped };
  });

  constructor(meId: string) {
    this.#meId = meId;
  }

  get(roomId: string): MemberRoom | undefined {
    return this.#rooms.value.get(roomId);
  }

  has(roomId: string): boolean {
    return this.#rooms.value.has(roomId);
  }

  ids(): string[] {
    return [...this.#rooms.peek().keys()];
  }

  /** Replaces everything with the server's list (GET /rooms). */
  load(rooms: MemberRoom[]): void {
    const openId = this.openId.peek();
    this.#rooms.value = new Map(rooms.map((room) => [room.id, room.id === openId ? cleared(room) : { ...room }]));
    this.loaded.value = true;
  }

  /**
   * A room I just created or joined, or one I was added to: nothing in it is unread for me yet.
   * Returns false when it was already known.
   */
  add(room: Room): boolean {
    const known = this.#rooms.peek().get(room.id);
    if (known !== undefined) {
      if (room.lastSeq > known.lastSeq) this.#set({ ...known, lastSeq: room.lastSeq });
      return false;
    }
    this.#set({ ...room, lastReadSeq: room.lastSeq, unread: 0 });
    return true;
  }

  remove(roomId: string): void {
    const rooms = new Map(this.#rooms.peek());
    if (!rooms.delete(roomId)) return;
    this.#rooms.value = rooms;
    if (this.openId.peek() === roomId) this.openId.value = null;
  }

  /** Opens a room (or none); its unread count is cleared. */
  open(roomId: string | null): void {
    const room = roomId === null ? undefined : this.#rooms.peek().get(roomId);
    this.openId.value = room === undefined ? null : room.id;
    if (room !== undefined && (room.unread > 0 || room.unreadCapped === true)) this.#set(cleared(room));
  }

  /** A live stream event: a message from someone else in a room not open counts as unread. */
  onEvent(event: StreamEvent): void {
    const room = this.#rooms.peek().get(event.roomId);
    if (room === undefined) return;
    const lastSeq = Math.max(room.lastSeq, event.seq);
    const unread = event.kind !== 'message' || event.user.id === this.#meId || event.roomId === this.openId.peek() || event.seq <= room.lastReadSeq ? 0 : 1;
    const changed = event.kind === 'room_updated' ? withChanges(room, event.changes ?? {}) : room;
    if (changed !== room || lastSeq !== room.lastSeq || unread > 0) this.#set({ ...changed, lastSeq, unread: room.unread + unread });
  }

  /**
   * My read marker moved (here or on another of my connections). Everything up to the room's
   * newest event read means nothing unread; short of that the count is kept, as the messages
   * between are not known here.
   */
  markedRead(roomId: string, seq: number): void {
    const room = this.#rooms.peek().get(roomId);
    if (room === undefined || seq <= room.lastReadSeq) return;
    const moved = { ...room, lastReadSeq: seq };
    this.#set(seq >= room.lastSeq ? cleared(moved) : moved);
  }

  #set(room: MemberRoom): void {
    this.#rooms.value = new Map(this.#rooms.peek()).set(room.id, room);
  }
}

/** A room as a `room_updated` event leaves it: renamed, a new topic, archived or not. */
function withChanges(room: MemberRoom, changes: NonNullable<StreamEvent['changes']>): MemberRoom {
  const { archived: _was, ...rest } = room;
  const next: MemberRoom = { ...rest, ...(changes.name === undefined ? {} : { name: changes.name }), ...(changes.topic === undefined ? {} : { topic: changes.topic }) };
  const archived = changes.archived ?? room.archived === true;
  return archived ? { ...next, archived: true } : next;
}
