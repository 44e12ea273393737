/** A modal question with a dangerous answer (delete, leave): Escape or Cancel says no, and focus starts on Cancel. */
import { useRef } from 'preact/hooks';
import { useModalDialog } from './modal.js';

export interface Confirmation {
  question: string;
  confirm: string;
  action: () => Promise<void>;
}

export function ConfirmDialog({ confirmation, onDone, error }: { confirmation: Confirmation | null; onDone: () => void; error: string }) {
  const cancel = useRef<HTMLButtonElement>(null);
  const dialog = useModalDialog(confirmation !== null, cancel, onDone);
  return (
    <dialog ref={dialog} class="confirm" aria-labelledby="confirm-question" data-testid="confirm-dialog">
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
