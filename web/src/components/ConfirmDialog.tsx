/** A modal question with a dangerous answer (delete, leave): Escape or Cancel says no, and focus starts on Cancel. */
import { useEffect, useRef } from 'preact/hooks';

export interface Confirmation {
  question: string;
  confirm: string;
  action: () => Promise<void>;
}

export function ConfirmDialog({ confirmation, onDone, error }: { confirmation: Confirmation | null; onDone: () => void; error: string }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const el = dialog.current;
    if (el === null) return;
    if (confirmation !== null && !el.open) {
      el.showModal();
      cancel.current?.focus();
    } else if (confirmation === null && el.open) el.close();
  }, [confirmation]);
  return (
    <dialog ref={dialog} class="confirm" aria-labelledby="confirm-question" onClose={() => {
        // The close event comes a task after close(): a new question may have opened it since.
        if (dialog.current?.open !== true) onDone();
      }}
      data-testid="confirm-dialog"
    >
      {confirmation !== null && (
        <form
          method="dialog"
          onSubmit={(event) => {
            event.preventDefault();
            void confirmation.action();
          }}
        >
          <p id="confirm-question">{confirmation.question}</p>
          <p class="error" role="alert">
            {error}
          </p>
          <div class="actions">
            <button ref={cancel} type="button" class="secondary" onClick={() => dialog.current?.close()} data-testid="confirm-cancel">
              Cancel
            </button>
            <button type="submit" class="danger" data-testid="confirm-ok">
              {confirmation.confirm}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}
