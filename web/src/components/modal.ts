/**
 * A modal <dialog> shown while `open`: showModal() and focus on `first` when it opens, close()
 * when it should not be. `onClosed` runs when it closed by itself while still meant to be open
 * (Escape, its own buttons, a click outside).
 *
 * The close is seen by a MutationObserver on the `open` attribute, in the microtask right after
 * the task that closed it, not by the close event: that event is queued as a task of its own, and
 * on a busy page it can arrive after the next click has asked for the dialog again, which it would
 * then undo (Escape, then Enter on the same preview, left the lightbox shut).
 */
import type { RefObject } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export function useModalDialog(open: boolean, first: RefObject<HTMLElement | null>, onClosed: () => void): RefObject<HTMLDialogElement | null> {
  const dialog = useRef<HTMLDialogElement>(null);
  const wanted = useRef(open);
  wanted.current = open;
  const closed = useRef(onClosed);
  closed.current = onClosed;
  useEffect(() => {
    const el = dialog.current;
    if (el === null) return;
    const observer = new MutationObserver(() => {
      if (el.open || !wanted.current) return;
      wanted.current = false;
      closed.current();
    });
    observer.observe(el, { attributes: true, attributeFilter: ['open'] });
    return () => observer.disconnect();
  }, []);
  useEffect(() => {
    const el = dialog.current;
    if (el === null) return;
    if (open && !el.open) {
      el.showModal();
      first.current?.focus();
    } else if (!open && el.open) el.close();
  }, [open]);
  return dialog;
}
