import type { Client } from 'pg';
import { bar, liveLine, say } from '../lib/terminal';
import { fmt, sleep } from './bench-context';

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Percentiles (seconds) of `end - start` over the jobs `j` matching `where`, computed in SQL from the
 * timestamps the pipeline wrote, so they are on the database's clock like everything else.
 */
export async function percentiles(
  db: Client,
  start: string,
  end: string,
  where: string,
  params: unknown[] = [],
): Promise<Percentiles> {
  const { rows } = await db.query<{ n: number; p: number[] | null; max: number | null }>(
    `SELECT count(*)::int AS n,
            percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM ${end} - ${start})) AS p,
            max(extract(epoch FROM ${end} - ${start}))::float8 AS max
       FROM portfolio_valuation_jobs j WHERE ${where}`,
    params,
  );
  const [p50, p95, p99] = rows[0].p ?? [0, 0, 0];
  return { n: rows[0].n, p50, p95, p99, max: rows[0].max ?? 0 };
}

/** Seconds between two ISO timestamps. */
export const seconds = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;

export interface Progress {
  label: string;
  total: number;
  /** How much is done; polled every `intervalMs`. */
  done: () => Promise<number>;
  /** Finished when done ≥ total, or when this says so. */
  finished?: (done: number) => boolean | Promise<boolean>;
  timeoutMs: number;
  intervalMs?: number;
  /** Extra text after the bar (e.g. live counters). */
  extra?: () => string;
}

/** Polls until finished, drawing a progress bar; throws on timeout. Returns the elapsed seconds. */
export async function progress(p: Progress): Promise<number> {
  const started = Date.now();
  const deadline = started + p.timeoutMs;
  for (;;) {
    const done = await p.done();
    const elapsed = (Date.now() - started) / 1000;
    liveLine(
      `  ${p.label} ${bar(Math.min(done, p.total), p.total)} ${fmt(done)}/${fmt(p.total)}` +
        `  ${fmt(elapsed, 1)} s${p.extra ? `  ${p.extra()}` : ''}`,
    );
    if (p.finished ? await p.finished(done) : done >= p.total) {
      say();
      return elapsed;
    }
    if (Date.now() > deadline) {
      say();
      throw new Error(`${p.label}: not finished after ${p.timeoutMs / 1000} s (${done}/${p.total})`);
    }
    await sleep(p.intervalMs ?? 500);
  }
}

/** Jobs in a terminal status (or waiting on data after an attempt), counted through the status index. */
export async function countUnsettled(db: Client): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM portfolio_valuation_jobs
      WHERE status = 'PROCESSING' OR (status = 'PENDING' AND attempt_count = 0)`,
  );
  return rows[0].n;
}

/** Transactions committed and rolled back in the benchmark database so far (server side). */
export async function serverTransactions(db: Client): Promise<number> {
  await db.query('SELECT pg_stat_force_next_flush()');
  const { rows } = await db.query<{ n: string }>(
    `SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = current_database()`,
  );
  return Number(rows[0].n);
}
