/**
 * ClickHouse over its HTTP interface (port 8123): a statement per request, rows in and out as
 * JSONEachRow. Every call ends within `timeoutMs` (the request is aborted, and the server is
 * asked to stop the statement at the same time with `max_execution_time`).
 *
 * Values never enter SQL text unchecked: inserted rows travel in the body as JSON, and the few
 * values a report puts in a statement (a room id, a range, a limit) go through `literal`,
 * which quotes a string the way ClickHouse reads it, or `integer`.
 */
import { unavailable } from '../../errors.js';

export interface ClickHouseOptions {
  /** http://[user[:password]@]host:port — credentials travel in headers, never in the request line. */
  url: string;
  timeoutMs: number;
}

/** Codes of a server that is busy or out of memory, not of a bad statement: retry later. */
const BUSY_CODES = new Set([159, 202, 203, 241, 242, 252]);
const OUTAGE = 'Analytics (ClickHouse) is unavailable; retry shortly.';

export class ClickHouseError extends Error {
  constructor(
    message: string,
    readonly code: number | null,
  ) {
    super(message);
    this.name = 'ClickHouseError';
  }
}

/** A string as a ClickHouse literal: quoted, with backslashes and quotes escaped. */
export function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A whole number for a statement, refused if it is not one. */
export function integer(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not an integer: ${value}`);
  return String(value);
}

/** A ClickHouse identifier (database or table name) as configured: letters, digits and _. */
export function identifier(value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(value)) throw new RangeError(`not a ClickHouse identifier: "${value}"`);
  return value;
}

export class ClickHouseHttp {
  readonly #endpoint: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;

  constructor(options: ClickHouseOptions) {
    const url = new URL(options.url);
    this.#headers = { 'content-type': 'text/plain; charset=utf-8' };
    if (url.username !== '') this.#headers['x-clickhouse-user'] = decodeURIComponent(url.username);
    if (url.password !== '') this.#headers['x-clickhouse-key'] = decodeURIComponent(url.password);
    url.username = '';
    url.password = '';
    url.pathname = '/';
    url.search = '';
    this.#endpoint = url.toString();
    this.#timeoutMs = options.timeoutMs;
  }

  /** Runs a statement that answers nothing (DDL, ALTER). */
  async exec(statement: string): Promise<void> {
    await this.#request(statement, '');
  }

  /** Runs a SELECT and answers its rows (the statement must not name a FORMAT). */
  async query<Row>(statement: string): Promise<Row[]> {
    const text = await this.#request(`${statement}\nFORMAT JSONEachRow`, '');
    const rows: Row[] = [];
    for (const line of text.split('\n')) if (line !== '') rows.push(JSON.parse(line) as Row);
    return rows;
  }

  /** Inserts rows into `table` (a qualified name), all in one request. */
  async insert(table: string, rows: object[]): Promise<void> {
    if (rows.length === 0) return;
    let body = '';
    for (const row of rows) body += `${JSON.stringify(row)}\n`;
    await this.#request(`INSERT INTO ${table} FORMAT JSONEachRow`, body);
  }

  async #request(statement: string, body: string): Promise<string> {
    const params = new URLSearchParams({
      // Seconds, whole: the server gives up before the client does.
      max_execution_time: String(Math.max(1, Math.floor(this.#timeoutMs / 1000) - 1)),
      output_format_json_quote_64bit_integers: '0',
    });
    // A SELECT goes in the body; an INSERT's statement in the URL, its rows in the body.
    const insert = body !== '';
    if (insert) params.set('query', statement);
    // The answer is held until the statement ends, so an error midway is an error status, not a cut-off body.
    else params.set('wait_end_of_query', '1');
    let response: Response;
    try {
      response = await fetch(`${this.#endpoint}?${params}`, {
        method: 'POST',
        headers: this.#headers,
        body: insert ? body : statement,
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw Object.assign(unavailable(OUTAGE), { cause: error });
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw Object.assign(unavailable(OUTAGE), { cause: error });
    }
    if (response.ok) return text;
    const code = Number(/^Code: (\d+)/.exec(text)?.[1] ?? Number.NaN);
    if (response.status >= 502 || BUSY_CODES.has(code)) throw Object.assign(unavailable(OUTAGE), { cause: new ClickHouseError(text.trim(), Number.isNaN(code) ? null : code) });
    throw new ClickHouseError(`ClickHouse refused a statement (HTTP ${response.status}): ${text.trim().slice(0, 500)}`, Number.isNaN(code) ? null : code);
  }
}
