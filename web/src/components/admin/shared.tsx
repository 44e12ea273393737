/**
 * What the admin page's sections share: the page's context (the calls, who I am, a confirmation
 * before what cannot be undone, word that something changed), a list read a page at a time, the
 * outcome of an action (done, or the error's message: never swallowed), and a secret shown once.
 */
import { type ReadonlySignal, type Signal, useSignal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import type { AdminClient, User } from '../../../../client/index.js';
import { describeError } from '../../format.js';

export interface AdminContext {
  api: AdminClient;
  me: User;
  /** Asks first; the dialog shows the action's error, or closes once it is done. */
  ask: (question: string, confirm: string, action: () => Promise<void>) => void;
  /** Something was changed from this page: the audit log and the queues read again. */
  changed: () => void;
  /** Counts the changes made from this page. */
  changes: ReadonlySignal<number>;
}

/** A page of a list, and the cursor of the next (null on the last). */
export interface Page<T> {
  items: readonly T[];
  next: string | null;
}

/** What an action says when done, or why it failed. */
export interface Outcome {
  status: Signal<string>;
  error: Signal<string>;
  /** Runs `action`: its answer (a sentence) becomes the status, its failure the error. */
  run(action: () => Promise<string>): Promise<void>;
}

export function useOutcome(): Outcome {
  const status = useSignal('');
  const error = useSignal('');
  return {
    status,
    error,
    async run(action) {
      status.value = error.value = '';
      try {
        status.value = await action();
      } catch (e) {
        error.value = describeError(e);
      }
    },
  };
}

export function OutcomeLines({ outcome, testId }: { outcome: Outcome; testId: string }) {
  return (
    <>
      <p class="hint" role="status" data-testid={`${testId}-status`}>
        {outcome.status.value}
      </p>
      <p class="error" role="alert" data-testid={`${testId}-error`}>
        {outcome.error.value}
      </p>
    </>
  );
}

export interface Paged<T> {
  /** null until the first page is read. */
  items: ReadonlySignal<readonly T[] | null>;
  next: ReadonlySignal<string | null>;
  loading: ReadonlySignal<boolean>;
  error: ReadonlySignal<string>;
  /** The page after those shown. */
  more(): void;
  /** The first page again. */
  reload(): void;
  /** One item as it is now. */
  replace(match: (item: T) => boolean, item: T): void;
}

/**
 * A list read a page at a time by `load` (given the cursor of the page, none for the first),
 * read afresh from its first page whenever `deps` change: after `delayMs` once shown (typing
 * pauses before a search goes out), at once the first time. Only the latest request counts.
 */
export function usePaged<T>(what: string, load: (after: string | undefined) => Promise<Page<T>>, deps: readonly unknown[], delayMs = 0): Paged<T> {
  const items = useSignal<readonly T[] | null>(null);
  const next = useSignal<string | null>(null);
  const loading = useSignal(false);
  const error = useSignal('');
  const loader = useRef(load);
  loader.current = load;
  const generation = useRef(0);
  const first = useRef(true);

  const read = (after: string | undefined) => {
    const request = ++generation.current;
    loading.value = true;
    loader
      .current(after)
      .then(
        (page) => {
          if (request !== generation.current) return;
          items.value = after === undefined ? page.items : [...(items.peek() ?? []), ...page.items];
          next.value = page.next;
          error.value = '';
        },
        (e: unknown) => {
          if (request === generation.current) error.value = `${what} could not be loaded: ${describeError(e)}`;
        },
      )
      .finally(() => {
        if (request === generation.current) loading.value = false;
      });
  };

  useEffect(() => {
    if (first.current || delayMs === 0) {
      first.current = false;
      read(undefined);
      return;
    }
    const timer = setTimeout(() => read(undefined), delayMs);
    return () => clearTimeout(timer);
  }, deps);
  // Answers arriving after the page is left change nothing.
  useEffect(
    () => () => {
      generation.current++;
    },
    [],
  );

  return {
    items,
    next,
    loading,
    error,
    more() {
      const after = next.peek();
      if (after !== null) read(after);
    },
    reload: () => read(undefined),
    replace(match, item) {
      items.value = items.peek()?.map((i) => (match(i) ? item : i)) ?? null;
    },
  };
}

/** The list's end: its error, "Loading…", or a button for the next page. */
export function PageEnd<T>({ paged, label, testId }: { paged: Paged<T>; label: string; testId: string }) {
  return (
    <div class="admin-page-end">
      <p class="error" role="alert">
        {paged.error.value}
      </p>
      {paged.loading.value ? (
        <p class="hint">Loading…</p>
      ) : (
        paged.next.value !== null && (
          <button type="button" class="secondary small" onClick={() => paged.more()} data-testid={testId}>
            {label}
          </button>
        )
      )}
    </div>
  );
}

/** A password made by the server: shown this once, until dismissed. */
export function OneTimeSecret({ secret, onDone }: { secret: { username: string; password: string } | null; onDone: () => void }) {
  if (secret === null) return null;
  return (
    <div class="admin-secret" role="status" data-testid="admin-secret">
      <span>
        The new password of <strong>@{secret.username}</strong>, shown only this once:
      </span>
      <code class="admin-secret-password" data-testid="admin-secret-password">{secret.password}</code>
      <button type="button" class="secondary small" onClick={onDone} data-testid="admin-secret-done">
        Done
      </button>
    </div>
  );
}

/** A number for a table cell: whole, or with one decimal below 100. */
export function formatRate(n: number): string {
  return n >= 100 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1);
}
