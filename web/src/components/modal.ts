/**
 * A modal <dialog> shown while `open`: showModal() and focus on `first` when it opens, close()
 * when it should not be. `closed(then)` makes its onClose handler: `then` runs when it closed
 * (Escape, its own buttons), but not for a close event that arrives after it opened again
 * (the event comes a task after close()).
 */
import type { RefObject } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export function useModalDialog(open: boolean, first: RefObject<HTMLElement | null>): { dialog: RefObject<HTMLDialogElement | null>; closed: (then: () => void) => () => void } {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current;
    if (el === null) return;
    if (open && !el.open) {
      el.showModal();
      first.current?.focus();
    } else if (!open && el.open) el.close();
  }, [open]);
  const closed = (then: () => void) => () => {
    if (dialog.current?.open !== true) then();
  };
  return { dialog, closed };
}
