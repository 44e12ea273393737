/**
 * One open room: its header (back to the room list on a phone, members, leave, jump to the
 * first unread), the messages, who is typing, the "new messages below" hint, the files waiting
 * to be sent and the composer. Files dropped anywhere on the room, or pasted in it, join the
 * next message.
 */
import { useSignal } from '@preact/signals';
import type { HTMLAttributes } from 'preact';
import { describeError, roomLabel, typingText } from '../format.js';
import type { AppState } from '../state/app.js';
import type { RoomSession } from '../state/room.js';
import { messageUrl, navigate } from '../state/route.js';
import { Lightbox } from './Attachments.js';
import { COMPOSER_ID, Composer } from './Composer.js';
import { type Confirmation, ConfirmDialog } from './ConfirmDialog.js';
import { Members } from './Members.js';
import { RoomSettings } from './RoomSettings.js';
import { MessageList } from './MessageList.js';
import { ThreadPanel } from './ThreadPanel.js';
import { UploadTray } from './UploadTray.js';

const carriesFiles = (event: DragEvent) => event.dataTransfer?.types.includes('Files') === true;

export function RoomPane({ app, session }: { app: AppState; session: RoomSession }) {
  const room = app.rooms.get(session.roomId) ?? session.room;
  const showMembers = useSignal(false);
  const confirmation = useSignal<Confirmation | null>(null);
  const confirmError = useSignal('');
  const status = useSignal('');
  const dropping = useSignal(false);
  const jumped = useSignal(false);
  // Entering a child counts before leaving its parent: the highlight goes when the count is 0.
  const depth = useSignal(0);
  const role = session.myRole;
  const newBelow = session.newBelow.value;
  const hasNewer = session.hasNewer.value;

  const ask = (question: string, confirm: string, action: () => Promise<void>) => {
    confirmError.value = '';
    confirmation.value = {
      question,
      confirm,
      action: async () => {
        try {
          await action();
          confirmation.value = null;
        } catch (error) {
          confirmError.value = describeError(error);
        }
      },
    };
  };

  const actions = {
    copyLink: (seq: number) => {
      const url = messageUrl(session.roomId, seq);
      navigator.clipboard.writeText(url).then(
        () => {
          status.value = 'Link copied.';
        },
        () => {
          status.value = `Copy this link: ${url}`;
        },
      );
    },
    confirmDelete: (seq: number) => ask('Delete this message for everyone? This cannot be undone.', 'Delete', () => session.delete(seq)),
    react: (seq: number, emoji: string, on: boolean) => session.react(seq, emoji, on),
    openThread: (seq: number) => navigate({ name: 'thread', roomId: session.roomId, root: seq }),
  };
  const thread = session.thread.value;
  const layout = ['room-layout'];
  if (showMembers.value) layout.push('with-members');
  if (thread !== null) layout.push('with-thread');

  const dragHandlers: HTMLAttributes<HTMLElement> = {
    onDragEnter: (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth.value++;
      dropping.value = true;
    },
    onDragOver: (event) => {
      if (!carriesFiles(event) || event.dataTransfer === null) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
    },
    onDragLeave: (event) => {
      if (!carriesFiles(event)) return;
      depth.value = Math.max(0, depth.value - 1);
      if (depth.value === 0) dropping.value = false;
    },
    onDrop: (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth.value = 0;
      dropping.value = false;
      session.uploads.add(event.dataTransfer?.files ?? []);
      document.getElementById(COMPOSER_ID)?.focus();
    },
    onPaste: (event) => {
      const data = event.clipboardData;
      if (data === null || data.files.length === 0) return;
      // Cells or a passage copied from a document come as text, markup and a picture of
      // themselves: the text is what was meant. A copied image or file comes without both.
      const picturedText = data.types.includes('text/plain') && data.types.includes('text/html') && [...data.files].every((f) => f.type.startsWith('image/'));
      if (picturedText) return;
      event.preventDefault();
      session.uploads.add(data.files);
    },
  };

  return (
    <div class={layout.join(' ')}>
      <section class={dropping.value ? 'room dropping' : 'room'} aria-label={room.name} data-testid="room" data-room-id={room.id} {...dragHandlers}>
        <header class="room-header">
          <a class="back" href="#/" aria-label="Back to rooms" data-testid="back">
            ‹
          </a>
          <div class="room-title">
            <h2>{roomLabel(room, app.me)}</h2>
            {room.topic !== '' && <p class="topic">{room.topic}</p>}
          </div>
          <div class="room-tools">
            {session.unreadAfter !== null && !jumped.value && (
              <button
                type="button"
                class="secondary small"
                onClick={() => {
                  jumped.value = true;
                  void session.jumpToFirstUnread();
                }}
                data-testid="jump-unread"
              >
                First unread
              </button>
            )}
            <button
              type="button"
              class="secondary small"
              aria-expanded={showMembers.value}
              onClick={() => {
                showMembers.value = !showMembers.value;
              }}
              data-testid="members-toggle"
            >
              Members
            </button>
            <RoomSettings api={app.api} room={room} canModerate={room.visibility !== 'dm' && (role === 'owner' || role === 'admin')} />
            {room.visibility !== 'dm' && (
              <button
                type="button"
                class="secondary small"
                onClick={() => ask(`Leave ${roomLabel(room, app.me)}?${room.visibility === 'private' ? ' A member will have to add you again.' : ''}`, 'Leave', () => app.leave(room.id))}
                data-testid="leave-room"
              >
                Leave
              </button>
            )}
          </div>
        </header>
        <MessageList session={session} me={app.me} canModerate={role === 'owner' || role === 'admin'} actions={actions} />
        {(newBelow > 0 || hasNewer) && (
          <button type="button" class="new-below" onClick={() => void session.jumpToPresent()} data-testid="new-below">
            {newBelow > 0 ? `${newBelow} new message${newBelow === 1 ? '' : 's'} below ↓` : 'Jump to the latest messages ↓'}
          </button>
        )}
        <p class="typing" aria-live="polite" data-testid="typing">
          {typingText(session.typing.value)}
        </p>
        <p class="status" role="status" data-testid="room-status">
          {status.value}
        </p>
        <p class="error" role="alert" data-testid="send-error">
          {session.error.value}
        </p>
        <p class="error" role="alert" data-testid="reaction-error">
          {session.reactionError.value}
        </p>
        {room.archived === true ? (
          <p class="banner composer-blocked" role="status" data-testid="archived-banner">
            This room is archived: you can read it, but nobody can send.
          </p>
        ) : session.muted.value !== null ? (
          <p class="banner composer-blocked" role="status" data-testid="muted-notice">
            {session.muted.value}
          </p>
        ) : (
          <>
            <UploadTray uploads={session.uploads} />
            <Composer session={session} me={app.me} />
          </>
        )}
        <div class="drop-zone" aria-hidden="true">
          Drop files to attach them
        </div>
        <Lightbox />
      </section>
      {/* Beside the room, not in it: on a phone the member list hides the room, and its questions must still show. */}
      <ConfirmDialog
        confirmation={confirmation.value}
        error={confirmError.value}
        onDone={() => {
          confirmation.value = null;
        }}
      />
      {thread !== null && <ThreadPanel key={thread.rootSeq} thread={thread} me={app.me} />}
      {showMembers.value && (
        <Members
          app={app}
          session={session}
          ask={ask}
          onClose={() => {
            showMembers.value = false;
          }}
        />
      )}
    </div>
  );
}
