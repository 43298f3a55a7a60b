import {
  type Book,
  type FromNow,
  type JobRow,
  type SeedCounts,
  type SeedOptions,
  type SqlType,
  TABLES,
} from './seed-rows';

export { fromNow } from './seed-rows';
export type * from './seed-rows';

/**
 * The one way the demo, the bench, the fault suite and the specs put rows into the pipeline's tables.
 * Callers build plain typed rows (in code, deterministic); `seedBook` writes every table of a call in
 * ONE statement: an `INSERT … SELECT FROM unnest(…)` per table, each a data-modifying CTE. So a whole
 * book costs one round trip, lands atomically on any connection (a pg Client or Pool, a TypeORM
 * DataSource or EntityManager: all this needs is `query`), and a million rows cost one array per column
 * rather than a million statements. No foreign keys tie the tables, so their order does not matter.
 *
 * A field a row leaves out (undefined) takes the column's default from the schema, as when an upstream
 * service omits the column; `null` writes NULL. Rows of one table that leave out different fields are
 * inserted by one INSERT each (still within the one statement), so no default is ever restated here.
 */

/** What every caller has: pg's Client and Pool answer `{ rows }`, TypeORM's DataSource the rows. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

const BOOK_KEYS = Object.keys(TABLES) as (keyof Book)[];
/** TABLES as the statement builder reads them: field → [column, type]. */
type TableSpec = { table: string; columns: Readonly<Record<string, readonly [string, SqlType]>> };

/** One INSERT of the statement: rows of one table that give the same fields. */
interface Insert {
  key: keyof Book;
  sql: string;
}

const isFromNow = (v: unknown): v is FromNow => typeof v === 'object' && v !== null && 'secondsFromNow' in v;

/**
 * Groups `rows` by the fields they give and writes each group's INSERT, its arrays appended to
 * `params` (so the numbering runs on across the whole statement). A TIMESTAMPTZ field is sent as two
 * arrays, absolute times and offsets from the database's `now()`, one of them NULL in each row.
 */
function inserts(key: keyof Book, rows: readonly object[], params: unknown[], tail: string): Insert[] {
  const spec = TABLES[key] as TableSpec;
  const fields = Object.keys(spec.columns);
  const groups = new Map<string, Record<string, unknown>[]>();
  for (const row of rows as Record<string, unknown>[]) {
    const given = fields.filter((f) => row[f] !== undefined).join(',');
    const group = groups.get(given);
    if (group) group.push(row);
    else groups.set(given, [row]);
  }
  return [...groups].map(([given, group]) => {
    const columns: string[] = [];
    const arrays: string[] = [];
    const aliases: string[] = [];
    const values: string[] = [];
    for (const [i, field] of given.split(',').entries()) {
      const [column, type] = spec.columns[field];
      const cells = group.map((row) => row[field]);
      columns.push(column);
      if (type === 'timestamptz') {
        params.push(cells.map((v) => (isFromNow(v) ? null : v)));
        arrays.push(`$${params.length}::timestamptz[]`);
        params.push(cells.map((v) => (isFromNow(v) ? v.secondsFromNow : null)));
        arrays.push(`$${params.length}::float8[]`);
        aliases.push(`c${i}`, `c${i}_s`);
        values.push(`COALESCE(c${i}, now() + make_interval(secs => c${i}_s))`);
      } else {
        params.push(cells);
        arrays.push(`$${params.length}::${type}[]`);
        aliases.push(`c${i}`);
        values.push(`c${i}`);
      }
    }
    const sql =
      `INSERT INTO ${spec.table} (${columns.join(', ')}) SELECT ${values.join(', ')}` +
      ` FROM unnest(${arrays.join(', ')}) AS u(${aliases.join(', ')})${tail}`;
    return { key, sql };
  });
}

/** The rows of a result, whichever client ran it (pg: `{ rows }`; TypeORM: the rows themselves). */
function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows;
}

/** The statement: each INSERT a CTE `s<i>` (all run, to completion), then `select` over them. */
async function run<T>(db: Queryable, parts: Insert[], params: unknown[], select: string): Promise<T[]> {
  const ctes = parts.map((p, i) => `s${i} AS (${p.sql})`).join(',\n');
  return rowsOf<T>(await db.query(`WITH ${ctes}\n${select}`, params));
}

/** Inserts every row of `book`, all tables in one statement; returns the rows inserted per table. */
export async function seedBook(db: Queryable, book: Book, options: SeedOptions = {}): Promise<SeedCounts> {
  const params: unknown[] = [];
  const skip = new Set(options.skipExisting);
  const parts = BOOK_KEYS.flatMap((key) =>
    inserts(key, book[key] ?? [], params, `${skip.has(key) ? ' ON CONFLICT DO NOTHING' : ''} RETURNING 1`),
  );
  const counts = Object.fromEntries(BOOK_KEYS.map((key) => [key, 0])) as SeedCounts;
  if (parts.length === 0) return counts;
  const select = `SELECT ${parts.map((_, i) => `(SELECT count(*) FROM s${i})::int AS s${i}`).join(', ')}`;
  const [row] = await run<Record<string, number>>(db, parts, params, select);
  parts.forEach((p, i) => (counts[p.key] += row[`s${i}`]));
  return counts;
}

const jobKey = (portfolioId: string, securityId: string, date: string, epoch: number) =>
  `${portfolioId}\u0000${securityId}\u0000${date}\u0000${epoch}`;

/**
 * Inserts `jobs` (one statement) and returns their ids in the order given. Each id is matched to its
 * row by the job's key (portfolio, security, date, epoch: unique), so no insertion order is assumed;
 * dates must be given as YYYY-MM-DD.
 */
export async function seedJobIds(db: Queryable, jobs: readonly JobRow[]): Promise<string[]> {
  if (jobs.length === 0) return [];
  const params: unknown[] = [];
  const tail = ` RETURNING id::text AS id, portfolio_id, security_id, to_char(valuation_date, 'YYYY-MM-DD') AS date, epoch`;
  const parts = inserts('jobs', jobs, params, tail);
  const select = parts.map((_, i) => `SELECT * FROM s${i}`).join(' UNION ALL ');
  const rows = await run<{
    id: string;
    portfolio_id: string;
    security_id: string;
    date: string;
    epoch: number;
  }>(db, parts, params, select);
  const ids = new Map(rows.map((r) => [jobKey(r.portfolio_id, r.security_id, r.date, r.epoch), r.id]));
  return jobs.map((j) => {
    const id = ids.get(jobKey(j.portfolioId, j.securityId, j.date, j.epoch ?? 0));
    if (id === undefined) throw new Error(`job ${j.portfolioId}/${j.securityId}@${j.date} was not inserted`);
    return id;
  });
}

/**
 * Seeds the rows `make` builds for `[from, to)`, a slice at a time (one statement each, not one
 * transaction): for sets of a million rows, whose arrays are better not sent in one statement.
 */
export async function seedRange(
  db: Queryable,
  from: number,
  to: number,
  make: (from: number, to: number) => Book,
  slice = 100_000,
): Promise<void> {
  for (let at = from; at < to; at += slice) await seedBook(db, make(at, Math.min(to, at + slice)));
}

/** `date` (YYYY-MM-DD) plus `days` calendar days. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Every calendar day from `first` to `last`, both included. */
export function daysFrom(first: string, last: string): string[] {
  const days: string[] = [];
  for (let d = first; d <= last; d = addDays(d, 1)) days.push(d);
  return days;
}

/**
 * `units` × 10^-`places` as exact decimal text, for NUMERIC amounts computed in whole units (cents,
 * thousandths) so no binary fraction creeps in: decimal(12345, 2) is '123.45'.
 */
export function decimal(units: number, places: number): string {
  if (!Number.isSafeInteger(units)) throw new Error(`decimal() takes whole units, not ${units}`);
  const digits = String(Math.abs(units)).padStart(places + 1, '0');
  const point = digits.length - places;
  const text = places > 0 ? `${digits.slice(0, point)}.${digits.slice(point)}` : digits;
  return units < 0 ? `-${text}` : text;
}

/** An id: `prefix` and `n` padded to `width` digits: numbered('P', 7, 6) is 'P000007'. */
export const numbered = (prefix: string, n: number, width: number) =>
  `${prefix}${String(n).padStart(width, '0')}`;
