/**
 * Query plans of the statements the store really runs, on both stores (issue 10): a statement
 * whose cost grows with a table rather than its result is one whose plan reads a table without
 * an index that fits its filter. The statements are captured from the query builder
 * (onQuery), never typed again here; each is named by a pattern and must reach every table
 * through the indexes listed for it, with the columns listed constrained.
 *
 * An access is written `index(columns)`: the index and the columns its lookup is bounded by
 * (SQLite: the `SEARCH ... (a=? AND b>?)` of EXPLAIN QUERY PLAN, `<expr>` for an expression;
 * PostgreSQL: the columns of the Index Cond, and `lower(name)`). An index read in its order
 * with nothing bounding it but a LIMIT is `walk(index)`; a match in an FTS5 table `fts(table)`;
 * rows sorted once read (all read before the first is returned) `sort`.
 * A table read without an index (SQLite `SCAN table`, PostgreSQL `Seq Scan`) is written
 * `scan(table)` and fails every expectation.
 */
import type pg from 'pg';
import type Sqlite from 'better-sqlite3';

export interface CapturedQuery {
  sql: string;
  parameters: readonly unknown[];
}

/** Collects the statements run while `recording` is on. */
export class QueryRecorder {
  readonly queries: CapturedQuery[] = [];
  recording = false;
  readonly observe = (query: CapturedQuery): void => {
    if (this.recording) this.queries.push(query);
  };

  async record(fn: () => Promise<unknown>): Promise<CapturedQuery[]> {
    this.queries.length = 0;
    this.recording = true;
    try {
      await fn();
    } finally {
      this.recording = false;
    }
    return [...this.queries];
  }
}

export interface Expectation {
  /** What the statement is, for messages. */
  name: string;
  /** Picks the statement out of those captured. */
  match: RegExp;
  /**
   * The accesses its plan must have, no more, no fewer; `a|b`: either (two indexes that fit
   * alike); `a?`: it may have it or not.
   */
  sqlite: string[];
  postgres: string[];
}

export type Dialect = 'sqlite' | 'postgres';

/** The accesses of one statement's plan, sorted, without repeats. */
export type Explain = (query: CapturedQuery) => Promise<string[]>;

const uniqueSorted = (items: string[]): string[] => [...new Set(items)].sort();

/** EXPLAIN QUERY PLAN on a connection to the same database file. */
export function sqliteExplain(raw: Sqlite.Database): Explain {
  return async (query) => {
    const rows = raw.prepare(`EXPLAIN QUERY PLAN ${query.sql}`).all(...(query.parameters as unknown[])) as Array<{ detail: string }>;
    // Rows of a subquery (a co-routine or a materialized view) are read from memory, not a table.
    const subqueries = new Set(rows.flatMap(({ detail }) => /^(?:CO-ROUTINE|MATERIALIZE) (\S+)$/.exec(detail)?.slice(1) ?? []));
    const accesses: string[] = [];
    for (const { detail } of rows) {
      const search = /^SEARCH (\S+) USING (?:COVERING )?(?:INDEX (\S+)|(INTEGER PRIMARY KEY|PRIMARY KEY)) \((.*)\)(?: LEFT-JOIN)?$/.exec(detail);
      if (search !== null) {
        // A WITHOUT ROWID table's primary key has no name in the plan: its columns tell which.
        const index = search[2] ?? search[3] ?? '';
        const columns = (search[4] ?? '').split(' AND ').map((c) => c.replace(/(?:=|>=|<=|>|<)\?$/, ''));
        accesses.push(`${index}(${[...new Set(columns)].join(',')})`);
        continue;
      }
      const virtual = /^SCAN (\S+) VIRTUAL TABLE INDEX (\d+):(.*)$/.exec(detail);
      if (virtual !== null) {
        // FTS5: an idxStr starting with M is a MATCH on the full-text index; anything else reads it whole.
        accesses.push(/^M/.test(virtual[3] ?? '') ? `fts(${virtual[1]})` : `scan(${virtual[1]})`);
        continue;
      }
      // Rows sorted after they are read: all of them are read before the first is returned.
      if (/^USE TEMP B-TREE FOR .*ORDER BY$/.test(detail)) {
        accesses.push('sort');
        continue;
      }
      // An index read in its order (a LIMIT may stop it early: the expectation says whether it may).
      const walk = /^SCAN (\S+) USING (?:COVERING )?INDEX (\S+)$/.exec(detail);
      if (walk !== null) {
        accesses.push(`walk(${walk[2]})`);
        continue;
      }
      // A table read whole.
      const scan = /^SCAN (\S+)/.exec(detail);
      if (scan !== null && !/VALUES CLAUSE$|^SCAN CONSTANT ROW$|^SCAN \d+ CONSTANT ROWS$/.test(detail) && !subqueries.has(scan[1] as string)) accesses.push(`scan(${scan[1]})`);
    }
    return uniqueSorted(accesses);
  };
}

interface PgPlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PgPlanNode[];
}

/**
 * Rows of tables the statement read, by table, as EXPLAIN ANALYZE counts them: those each scan
 * returned and those its filter removed, over all its loops. It runs the statement: only for
 * reads.
 */
export async function postgresRowsExamined(client: pg.Client, query: CapturedQuery): Promise<Map<string, number>> {
  const result = await client.query<{ 'QUERY PLAN': Array<{ Plan: PgPlanNode }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${query.sql}`, query.parameters as unknown[]);
  const rows = new Map<string, number>();
  const walk = (node: PgPlanNode): void => {
    const table = node['Relation Name'];
    if (table !== undefined) {
      const perLoop = (node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0);
      rows.set(table, (rows.get(table) ?? 0) + perLoop * (node['Actual Loops'] ?? 1));
    }
    for (const child of node.Plans ?? []) walk(child);
  };
  walk((result.rows[0]?.['QUERY PLAN'] ?? [])[0]?.Plan as PgPlanNode);
  return rows;
}

/** EXPLAIN (FORMAT JSON) with the statement's own parameters, so the plan is the one it gets. */
export function postgresExplain(client: pg.Client): Explain {
  return async (query) => {
    const result = await client.query<{ 'QUERY PLAN': Array<{ Plan: PgPlanNode }> }>(`EXPLAIN (FORMAT JSON) ${query.sql}`, query.parameters as unknown[]);
    const accesses: string[] = [];
    const walk = (node: PgPlanNode): void => {
      const type = node['Node Type'];
      if (type === 'Seq Scan') accesses.push(`scan(${node['Relation Name']})`);
      if (type === 'Sort' || type === 'Incremental Sort') accesses.push('sort');
      if (type === 'Index Scan' || type === 'Index Only Scan' || type === 'Bitmap Index Scan') {
        const cond = node['Index Cond'] ?? '';
        if (cond === '') {
          // An index read in its order, bounded only by a LIMIT above it.
          accesses.push(`walk(${node['Index Name']})`);
        } else {
          const columns = [...cond.matchAll(/\((?:\w+\.)?(\w+) (?:=|>|<|>=|<=|~~)/g)].map((m) => m[1] as string);
          const expressions = cond.includes('lower(name)') ? ['lower(name)'] : [];
          // A column compared in an index of another collation: `((username)::text >= …)`.
          const collated = [...cond.matchAll(/\(\((\w+)\)::text (?:=|>|<|>=|<=) /g)].map((m) => m[1] as string);
          accesses.push(`${node['Index Name']}(${uniqueSorted([...columns, ...expressions, ...collated]).join(',')})`);
        }
      }
      for (const child of node.Plans ?? []) walk(child);
    };
    walk((result.rows[0]?.['QUERY PLAN'] ?? [])[0]?.Plan as PgPlanNode);
    return uniqueSorted(accesses);
  };
}

export interface PlanReport {
  /** Statements no expectation names: a new statement on the path must be named here. */
  unnamed: string[];
  /** Expectations no captured statement met. */
  unmet: string[];
  /** Per statement: what it was expected to use and what its plan uses. */
  mismatches: Array<{ name: string; sql: string; expected: string[]; actual: string[] }>;
}

/**
 * Matches every captured statement to its expectation and compares the plan's accesses.
 * A statement without an expectation, or an expectation without a statement, is reported too.
 */
export async function checkPlans(queries: CapturedQuery[], expectations: Expectation[], dialect: Dialect, explain: Explain): Promise<PlanReport> {
  const report: PlanReport = { unnamed: [], unmet: [], mismatches: [] };
  const met = new Set<string>();
  for (const query of queries) {
    // Transaction control reads no table.
    if (/^(begin|commit|rollback|start transaction)\b/i.test(query.sql)) continue;
    const expectation = expectations.find((e) => e.match.test(query.sql));
    if (expectation === undefined) {
      report.unnamed.push(query.sql);
      continue;
    }
    met.add(expectation.name);
    const actual = await explain(query);
    const expected = uniqueSorted(expectation[dialect]);
    const fits = (wanted: string, access: string) => wanted.replace(/\?$/, '').split('|').includes(access);
    const ok = expected.every((w) => w.endsWith('?') || actual.some((a) => fits(w, a))) && actual.every((a) => expected.some((w) => fits(w, a)));
    if (!ok) report.mismatches.push({ name: expectation.name, sql: query.sql.slice(0, 300), expected, actual });
  }
  report.unmet = expectations.filter((e) => !met.has(e.name)).map((e) => e.name);
  return report;
}
