import type { Client } from 'pg';

/**
 * Row versions written per job, table by table, from pg_stat_user_tables: every INSERT and every
 * UPDATE (HOT or not) leaves a new tuple that vacuum must later reclaim, so ins + upd per job is what a
 * drain costs the heap; the HOT share says how much of it spared the indexes. Deletes write no
 * version and are counted apart. Kept free of the bench's other modules so its unit spec needs nothing.
 */
export interface TableWrites {
  ins: number;
  upd: number;
  /** Of `upd`, the HOT updates (no index entry written). */
  hot: number;
  del: number;
}

/** Cumulative counters of every user table of the bench database, by name (schema-qualified outside public). */
export type WriteSample = Record<string, TableWrites>;

export interface TableRowVersions {
  /** (ins + upd) / jobs. */
  perJob: number;
  /** hot / upd (0 when nothing was updated). */
  hotShare: number;
  delPerJob: number;
}

export interface RowVersions {
  perJob: number;
  hotShare: number;
  /** Only the tables written during the window, most written first. */
  byTable: Record<string, TableRowVersions>;
}

/**
 * The counters now. The bench's own backend publishes its pending counts first (its inserts of the
 * jobs, before a window); other backends publish theirs on their own schedule (see drain-run.ts).
 */
export async function sampleTableWrites(db: Client): Promise<WriteSample> {
  await db.query('SELECT pg_stat_force_next_flush()');
  const { rows } = await db.query<{ t: string; ins: string; upd: string; hot: string; del: string }>(
    `SELECT CASE WHEN schemaname = 'public' THEN relname ELSE schemaname || '.' || relname END AS t,
            n_tup_ins::text AS ins, n_tup_upd::text AS upd,
            n_tup_hot_upd::text AS hot, n_tup_del::text AS del
       FROM pg_stat_user_tables`,
  );
  return Object.fromEntries(
    rows.map((r) => [
      r.t,
      { ins: Number(r.ins), upd: Number(r.upd), hot: Number(r.hot), del: Number(r.del) },
    ]),
  );
}

/** Longer than the 10 s (PGSTAT_IDLE_INTERVAL) an idle backend may hold its counters. */
export const STATS_QUIET_MS = 11_000;

/** Whether any table but `ignore` was written between two samples. */
export function writtenBetween(before: WriteSample, after: WriteSample, ignore: readonly string[]): boolean {
  return Object.entries(after).some(([table, a]) => {
    if (ignore.includes(table)) return false;
    const b = before[table];
    return !b || a.ins !== b.ins || a.upd !== b.upd || a.del !== b.del;
  });
}

/**
 * The counters once no table but `ignore` (a lease renewed on a clock, not per job) changed for
 * `quietMs`, or after `maxMs` (`quiet` false). A backend that goes idle with counts younger than a
 * second publishes them 10 s later (PGSTAT_IDLE_INTERVAL), so a quiet spell longer than that means
 * every write made so far is counted, the scheduler's watermark sweeps that trail the drain included.
 */
export async function quietTableWrites(
  db: Client,
  o: { quietMs: number; maxMs: number; ignore: readonly string[] },
): Promise<{ sample: WriteSample; quiet: boolean }> {
  const started = Date.now();
  let sample = await sampleTableWrites(db);
  let lastChange = Date.now();
  while (Date.now() - lastChange < o.quietMs) {
    if (Date.now() - started > o.maxMs) return { sample, quiet: false };
    await new Promise((r) => setTimeout(r, 1000));
    const next = await sampleTableWrites(db);
    if (writtenBetween(sample, next, o.ignore)) lastChange = Date.now();
    sample = next;
  }
  return { sample, quiet: true };
}

const share = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

/** What was written between two samples, per job; a table new in `after` counts from zero. */
export function rowVersionsPerJob(before: WriteSample, after: WriteSample, jobs: number): RowVersions {
  const zero: TableWrites = { ins: 0, upd: 0, hot: 0, del: 0 };
  const deltas = Object.entries(after)
    .map(([table, a]): [string, TableWrites] => {
      const b = before[table] ?? zero;
      return [table, { ins: a.ins - b.ins, upd: a.upd - b.upd, hot: a.hot - b.hot, del: a.del - b.del }];
    })
    .filter(([, d]) => d.ins + d.upd + d.del > 0)
    .sort(([, x], [, y]) => y.ins + y.upd - (x.ins + x.upd));
  const total = deltas.reduce(
    (s, [, d]) => ({ versions: s.versions + d.ins + d.upd, upd: s.upd + d.upd, hot: s.hot + d.hot }),
    {
      versions: 0,
      upd: 0,
      hot: 0,
    },
  );
  return {
    perJob: total.versions / jobs,
    hotShare: share(total.hot, total.upd),
    byTable: Object.fromEntries(
      deltas.map(([table, d]) => [
        table,
        { perJob: (d.ins + d.upd) / jobs, hotShare: share(d.hot, d.upd), delPerJob: d.del / jobs },
      ]),
    ),
  };
}

const pct = (x: number) => `${Math.round(x * 100)} %`;

/** "5.02 per job (HOT 61 %): portfolio_valuation_jobs 3.00 (HOT 90 %) · …", for the headline lines. */
export function describeRowVersions(r: RowVersions): string {
  const tables = Object.entries(r.byTable)
    .filter(([, t]) => t.perJob > 0)
    .map(([name, t]) => `${name} ${t.perJob.toFixed(2)}${t.hotShare > 0 ? ` (HOT ${pct(t.hotShare)})` : ''}`);
  return `${r.perJob.toFixed(2)} per job (HOT ${pct(r.hotShare)}): ${tables.join(' · ')}`;
}
