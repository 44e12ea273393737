/**
 * When a new account's names would let one user pass for another (PROTOCOL.md: `conflict`). The
 * store finds them (atomically with creating the account); this module says what each means.
 * Names are compared in their folded form (foldName in src/protocol/text.ts): a display name
 * reads as a username when its folded form equals it.
 */
import { AppError } from '../errors.js';

export type NameConflict =
  /** Another user has this username (usernames are unique case-insensitively). */
  | 'username_taken'
  /** Another user's display name, folded, is this username: they would read as this user. */
  | 'username_resembles_display_name'
  /** This display name, folded, is another user's username: it would read as that user. */
  | 'display_name_resembles_username';

/**
 * Deleted accounts' usernames start with this (deletedUsername in administration.ts): nobody
 * registers one, so no one can take the name an account will get when it is deleted (and so
 * stop the deletion), nor pass for a deleted user.
 */
export const DELETED_USERNAME_PREFIX = 'deleted-';

const MEANINGS: Record<NameConflict, { message: string; field: 'username' | 'displayName'; reason: string }> = {
  username_taken: { message: 'That username is taken.', field: 'username', reason: 'taken' },
  username_resembles_display_name: {
    message: "That username reads as another user's display name; choose another, so that neither of you can be taken for the other.",
    field: 'username',
    reason: 'resembles_display_name',
  },
  display_name_resembles_username: {
    message: "That display name reads as another user's username; choose another, so that nobody takes you for them.",
    field: 'displayName',
    reason: 'resembles_username',
  },
};

/** The `conflict` error for `kind`, naming the field to change in `details.field`. */
export function nameConflictError(kind: NameConflict): AppError {
  const { message, field, reason } = MEANINGS[kind];
  return new AppError('conflict', message, { field, reason });
}
