/**
 * Failures of a job run that retrying cannot help: the job is dead at once (kept for an
 * operator) instead of using its remaining attempts.
 */
export class PermanentJobError extends Error {
  override readonly name = 'PermanentJobError';
}

export function isPermanent(error: unknown): boolean {
  return error instanceof PermanentJobError || (error instanceof Error && error.name === 'PermanentJobError');
}

/** The message kept with a failed run: bounded, never the whole of a huge error. */
export function failureMessage(error: unknown, max = 2_000): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
