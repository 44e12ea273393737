/**
 * Records what would have ended the process (an 'error' event nobody listened to is thrown as
 * an uncaught exception; a rejection nobody handled too), so a test can assert there was none
 * instead of dying mid-run without saying where.
 */
export function recordUncaught(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const record = (error: unknown) => errors.push(error);
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  return {
    errors,
    stop: () => {
      process.off('uncaughtException', record);
      process.off('unhandledRejection', record);
    },
  };
}
