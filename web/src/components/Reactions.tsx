/**
 * Reactions: the chips under a message ("👍 2", pressed when one of them is mine; a click
 * toggles mine), and the React button's picker of common emoji (arrow keys move, Enter or a
 * click picks, Escape closes and gives focus back to the button).
 */
import { useSignal } from '@preact/signals';
import { useLayoutEffect, useRef } from 'preact/hooks';
import type { Reaction } from '../../../client/index.js';

export const EMOJI = ['👍', '👎', '❤️', '😂', '😮', '😢', '🎉', '🙏', '👀', '🔥', '✅', '❌', '👏', '🚀', '💯', '🤔', '😄', '😍', '😅', '🙌', '💪', '👌', '⭐', '➕'] as const;
/** Emoji per row of the picker (what the Up and Down arrows skip). */
const COLUMNS = 6;

export function ReactionChips({ reactions, onToggle }: { reactions: readonly Reaction[] | undefined; onToggle: (emoji: string, on: boolean) => void }) {
  if (reactions === undefined || reactions.length === 0) return null;
  return (
    <ul class="reactions" aria-label="Reactions" data-testid="reactions">
      {reactions.map((r) => (
        <li key={r.emoji}>
          <button
            type="button"
            class={r.me ? 'reaction mine' : 'reaction'}
            aria-pressed={r.me}
            aria-label={`${r.emoji} ${r.count}${r.me ? ', yours: take it back' : ', add yours'}`}
            onClick={() => onToggle(r.emoji, !r.me)}
            data-testid="reaction"
          >
            {r.emoji} {r.count}
          </button>
        </li>
      ))}
    </ul>
  );
}

/** The React action: a button and, while open, its picker. */
export function ReactButton({ reactions, onToggle }: { reactions: readonly Reaction[] | undefined; onToggle: (emoji: string, on: boolean) => void }) {
  const open = useSignal(false);
  const button = useRef<HTMLButtonElement>(null);
  const close = () => {
    open.value = false;
    button.current?.focus();
  };
  return (
    <span class="react">
      <button
        ref={button}
        type="button"
        class="secondary small"
        aria-haspopup="true"
        aria-expanded={open.value}
        aria-label="React to message"
        onClick={() => {
          open.value = !open.value;
        }}
        data-testid="react"
      >
        React
      </button>
      {open.value && (
        <Picker
          onPick={(emoji) => {
            // Picking an emoji I already reacted with keeps it: the chip takes it back.
            if (reactions?.find((r) => r.emoji === emoji)?.me !== true) onToggle(emoji, true);
            close();
          }}
          onClose={close}
          onDismiss={() => {
            open.value = false;
          }}
        />
      )}
    </span>
  );
}

function Picker({ onPick, onClose, onDismiss }: { onPick: (emoji: string) => void; onClose: () => void; onDismiss: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    ref.current?.querySelector('button')?.focus();
  }, []);
  const move = (from: number, by: number) => {
    const buttons = ref.current?.querySelectorAll('button');
    if (buttons === undefined) return;
    const to = (from + by + EMOJI.length) % EMOJI.length;
    buttons[to]?.focus();
  };
  const moves: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: COLUMNS, ArrowUp: -COLUMNS };
  return (
    <div
      ref={ref}
      class="emoji-picker"
      role="dialog"
      aria-label="Choose a reaction"
      onFocusOut={(event) => {
        // Tabbing or clicking elsewhere closes it (the React button toggles it itself).
        const to = event.relatedTarget;
        if (to instanceof Node && (ref.current?.contains(to) === true || ref.current?.parentElement?.contains(to) === true)) return;
        onDismiss();
      }}
      data-testid="emoji-picker"
    >
      {EMOJI.map((emoji, i) => (
        <button
          key={emoji}
          type="button"
          class="emoji"
          aria-label={`React with ${emoji}`}
          onClick={() => onPick(emoji)}
          onKeyDown={(event) => {
            const by = moves[event.key];
            if (by !== undefined) {
              event.preventDefault();
              move(i, by);
            } else if (event.key === 'Escape') {
              event.preventDefault();
              event.stopPropagation();
              onClose();
            }
          }}
          data-testid="emoji"
        >
          {emoji}
        </button>
      ))}
    </div>
  );
}
