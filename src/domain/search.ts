/**
 * Full-text search over the caller's rooms. The store finds and orders the hits; the snippet
 * and its highlighting are made here, the same way for every store: the text is HTML-escaped
 * and each word that a query term prefixes is wrapped in <mark>…</mark>.
 */
import { unavailable, validationFailed } from '../errors.js';
import type { Store } from '../ports.js';
import type { Access } from './access.js';
import { withReactions } from './reactions.js';
import type { MessageRecord } from './types.js';

const WORD = /[\p{L}\p{N}]+/gu;
const MAX_TERMS = 8;
const SNIPPET_CHARS = 200;

/** Lower-cased, without diacritics, as the stores index words. */
const fold = (s: string): string => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();

/**
 * What the stores index for a body: its words, folded, separated by single spaces. Both
 * dialects then split it into the same words, so a search matches the same messages on both.
 */
export const searchText = (body: string): string => (fold(body).match(WORD) ?? []).join(' ');

export function queryTerms(q: string): string[] {
  const terms = [...new Set((fold(q).match(WORD) ?? []).map((t) => t.slice(0, 64)))];
  return terms.slice(0, MAX_TERMS);
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A window of the body around the first match, escaped, with matching words marked. */
export function highlight(body: string, terms: string[]): string {
  const matches: Array<[number, number]> = [];
  for (const m of body.matchAll(WORD)) {
    const word = fold(m[0]);
    if (terms.some((t) => word.startsWith(t))) matches.push([m.index, m.index + m[0].length]);
  }
  const first = matches[0]?.[0] ?? 0;
  const start = body.length <= SNIPPET_CHARS ? 0 : Math.max(0, Math.min(first - SNIPPET_CHARS / 4, body.length - SNIPPET_CHARS));
  const end = Math.min(body.length, start + SNIPPET_CHARS);
  let out = start > 0 ? '…' : '';
  let at = start;
  for (const [s, e] of matches) {
    if (s < start || e > end) continue;
    out += `${escapeHtml(body.slice(at, s))}<mark>${escapeHtml(body.slice(s, e))}</mark>`;
    at = e;
  }
  out += escapeHtml(body.slice(at, end));
  if (end < body.length) out += '…';
  return out;
}

export interface SearchLimits {
  /** Most matches one search examines (Store.search's maxCandidates). */
  maxCandidates: number;
  /** Deadline of one search from the moment it is asked, ms. */
  timeoutMs: number;
  /** Searches running or waiting at once in this process; past it, `unavailable` at once. */
  maxConcurrent: number;
}

export interface SearchResult {
  hits: Array<{ message: MessageRecord; highlight: string }>;
  /** The search stopped at its candidate cap: more hits may exist (narrow it to a room). */
  truncated: boolean;
  /** Events of the searched rooms the indexer had not taken yet (SearchPage.pending). */
  pending: number;
}

/**
 * Whether every term prefixes a word of the body. The index may hold the words of an edited
 * message's earlier body for a moment: a hit is kept only when the message as it is now matches.
 */
export function matchesAll(body: string, terms: string[]): boolean {
  const words = searchText(body).split(' ');
  return terms.every((t) => words.some((w) => w.startsWith(t)));
}

/** Most events a search catches up before it answers; past it the answer says what is pending. */
const CATCH_UP_MAX_EVENTS = 2_000;
const CATCH_UP_MAX_ROOMS = 8;

export interface SearchCatchUp {
  /** Indexes a room's events the indexer has not taken yet, from the store. */
  catchUp(roomId: string): Promise<void>;
  onError(error: unknown, context: string): void;
}

export class Search {
  readonly #store: Store;
  readonly #access: Access;
  readonly #limits: SearchLimits;
  readonly #indexer: SearchCatchUp | undefined;
  #running = 0;

  constructor(store: Store, access: Access, limits: SearchLimits, indexer?: SearchCatchUp) {
    this.#store = store;
    this.#access = access;
    this.#limits = limits;
    this.#indexer = indexer;
  }

  async search(userId: string, q: string, roomId: string | undefined, limit: number): Promise<SearchResult> {
    if (roomId !== undefined) await this.#access.requireMember(roomId, userId);
    const terms = queryTerms(q);
    if (terms.length === 0) throw validationFailed('The search needs at least one word.');
    // Searches are the one costly read a user can ask for at will: past the bound they are
    // refused at once, so they can neither pile up on the store nor hold its connections.
    if (this.#running >= this.#limits.maxConcurrent) throw unavailable('Too many searches are running; retry shortly.');
    this.#running += 1;
    try {
      const query = { userId, terms, roomId, limit, maxCandidates: this.#limits.maxCandidates, deadlineAt: Date.now() + this.#limits.timeoutMs };
      let page = await this.#store.search(query);
      // Rooms the indexer has not caught up with (just sent to): indexed here first, from the
      // store, within half of what is left of the deadline, so a search finds what was
      // acknowledged before it. Past the bound, the answer says what is pending.
      if (this.#indexer !== undefined && page.pending > 0 && page.pending <= CATCH_UP_MAX_EVENTS) {
        if (await this.#catchUp(page.pendingRooms.slice(0, CATCH_UP_MAX_ROOMS), query.deadlineAt)) page = await this.#store.search(query);
      }
      const messages = await withReactions(
        this.#store,
        userId,
        page.hits.map((h) => h.message).filter((m) => matchesAll(m.body, terms)),
      );
      // A hit left out because its message changed since it was indexed: older hits may exist.
      const dropped = messages.length < page.hits.length;
      return { hits: messages.map((message) => ({ message, highlight: highlight(message.body, terms) })), truncated: page.truncated || dropped, pending: page.pending };
    } finally {
      this.#running -= 1;
    }
  }

  /** True when the rooms were caught up in time; a failure is reported and the search answers as it can. */
  async #catchUp(rooms: string[], deadlineAt: number): Promise<boolean> {
    const indexer = this.#indexer as SearchCatchUp;
    let timer: NodeJS.Timeout | undefined;
    const inTime = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), Math.max(0, (deadlineAt - Date.now()) / 2));
    });
    try {
      const done = Promise.all(rooms.map((r) => indexer.catchUp(r))).then(
        () => true,
        (error: unknown) => {
          indexer.onError(error, 'catching up the search index');
          return false;
        },
      );
      return await Promise.race([done, inTime]);
    } finally {
      clearTimeout(timer);
    }
  }
}
