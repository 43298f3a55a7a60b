import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { JobStatus } from '@app/valuation';

/** The statuses whose rows stay few (work not yet settled, and failures waiting for an operator). */
export const ACTIVE_STATUSES = ['PENDING', 'PROCESSING', 'FAILED'] as const satisfies readonly JobStatus[];
/** The statuses that grow with history: counting them reads most of the table. */
export const SETTLED_STATUSES = [
  'COMPLETE',
  'SKIPPED_NO_POSITION',
  'SKIPPED_SUPERSEDED',
] as const satisfies readonly JobStatus[];

export interface ActiveJobStats {
  counts: Record<(typeof ACTIVE_STATUSES)[number], number>;
  /** Highest attempt_count among PENDING and PROCESSING jobs. */
  attemptsMax: number;
  /** PENDING jobs with attempt_count above the alert threshold. */
  overAttemptThreshold: number;
  /** Age of the oldest due PENDING job, 0 when none is due. */
  oldestDueSeconds: number;
}

interface ActiveRow {
  pending: string;
  processing: string;
  failed: string;
  attempts_max: number;
  over_threshold: string;
  oldest_due_seconds: string;
}

/** The aggregates behind the scheduler's gauges (contract §8): two queries, no per-key labels. */
@Injectable()
export class JobStatsRepository {
  constructor(private readonly ds: DataSource) {}

  /** One pass over the non-settled rows, through the (status, id) index. */
  async activeStats(attemptThreshold: number): Promise<ActiveJobStats> {
    const [r] = await this.ds.query<ActiveRow[]>(
      `SELECT count(*) FILTER (WHERE status = 'PENDING') AS pending,
              count(*) FILTER (WHERE status = 'PROCESSING') AS processing,
              count(*) FILTER (WHERE status = 'FAILED') AS failed,
              COALESCE(max(attempt_count) FILTER (WHERE status IN ('PENDING', 'PROCESSING')), 0) AS attempts_max,
              count(*) FILTER (WHERE status = 'PENDING' AND attempt_count > $1) AS over_threshold,
              COALESCE(extract(epoch FROM now() - min(COALESCE(next_attempt_at, created_at))
                         FILTER (WHERE status = 'PENDING' AND COALESCE(next_attempt_at, created_at) <= now())),
                       0) AS oldest_due_seconds
         FROM portfolio_valuation_jobs
        WHERE status IN ('PENDING', 'PROCESSING', 'FAILED')`,
      [attemptThreshold],
    );
    return {
      counts: { PENDING: Number(r.pending), PROCESSING: Number(r.processing), FAILED: Number(r.failed) },
      attemptsMax: Number(r.attempts_max),
      overAttemptThreshold: Number(r.over_threshold),
      oldestDueSeconds: Number(r.oldest_due_seconds),
    };
  }

  /** Counts of the settled statuses; proportional to the table, so the caller refreshes it less often. */
  async settledCounts(): Promise<Record<(typeof SETTLED_STATUSES)[number], number>> {
    const rows = await this.ds.query<{ status: (typeof SETTLED_STATUSES)[number]; n: string }[]>(
      `SELECT status, count(*) AS n FROM portfolio_valuation_jobs WHERE status = ANY($1::text[]) GROUP BY status`,
      [SETTLED_STATUSES],
    );
    const counts = { COMPLETE: 0, SKIPPED_NO_POSITION: 0, SKIPPED_SUPERSEDED: 0 };
    for (const r of rows) counts[r.status] = Number(r.n);
    return counts;
  }
}
