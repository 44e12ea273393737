/**
 * Query strings, decoded strictly. The default parser keeps a value it cannot decode as it came
 * (`%E0%A4` stays `%E0%A4`), so a malformed escape or one that is not UTF-8 (an encoded
 * surrogate, `%ED%A0%80`) would be searched for literally. Here such a parameter is marked, and
 * the request is refused with validation_failed naming it (`malformedQuery`). A name given twice
 * keeps every value, in an array, which the schemas refuse: one value per name.
 */

/** Where the names that could not be decoded are kept on the parsed object (not enumerable). */
const MALFORMED = Symbol('malformed query parameters');

type Query = Record<string, string | string[]> & { [MALFORMED]?: string[] };

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    return null;
  }
}

/** Parses `a=1&b=2` (without the `?`) into an object without a prototype; never throws. */
export function parseQuery(text: string): Query {
  const query = Object.create(null) as Query;
  if (text === '') return query;
  const malformed: string[] = [];
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq === -1 ? pair : pair.slice(0, eq);
    const name = decode(rawName);
    const value = decode(eq === -1 ? '' : pair.slice(eq + 1));
    if (name === null || value === null) {
      malformed.push(name ?? '(unnamed)');
      continue;
    }
    const previous = query[name];
    if (previous === undefined) query[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else query[name] = [previous, value];
  }
  if (malformed.length > 0) Object.defineProperty(query, MALFORMED, { value: malformed, enumerable: false });
  return query;
}

/** The names of the parameters `parseQuery` could not decode, or null when every one was well formed. */
export function malformedQuery(query: unknown): string[] | null {
  if (typeof query !== 'object' || query === null) return null;
  return (query as Query)[MALFORMED] ?? null;
}
