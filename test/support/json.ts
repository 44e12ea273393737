/**
 * A JSON value as a test reads it off the wire. Tests reach into answers field by field and
 * assert each one, so this type only has to let them; a decoder per answer would restate the
 * assertions that follow it. Used by the test and bench helpers only, never by Parley itself.
 */
// biome-ignore lint/suspicious/noExplicitAny: the one loosely typed value of the test helpers (see above)
export type Json = any;
