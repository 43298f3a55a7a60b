import type { Client } from 'pg';
import type { CapturedQuery } from './captured-sql';

export interface ExplainedRun {
  /** Execution time EXPLAIN ANALYZE reported, ms. */
  ms: number;
  /** Shared buffers the top node hit or read. */
  buffers: number;
  plan: string;
}

/**
 * A captured statement run for real under EXPLAIN (ANALYZE, BUFFERS), inside a transaction that is
 * rolled back: the plan and timing of a write without its effect, so the next run sees the same rows.
 */
export async function explainAnalyze(db: Client, q: CapturedQuery): Promise<ExplainedRun> {
  await db.query('BEGIN');
  try {
    const { rows } = await db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS) ${q.sql}`,
      q.params,
    );
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    const top = /Buffers: shared hit=(\d+)(?: read=(\d+))?/.exec(plan);
    return {
      ms: Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN),
      buffers: top ? Number(top[1]) + Number(top[2] ?? 0) : 0,
      plan,
    };
  } finally {
    await db.query('ROLLBACK');
  }
}
