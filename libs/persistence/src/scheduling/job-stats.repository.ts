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

/** Every status of the job table (the label values of valuation_jobs). */
export const ALL_STATUSES = [...ACTIVE_STATUSES, ...SETTLED_STATUSES] as const;
export type JobStatusCounts = Record<(typeof ALL_STATUSES)[number], number>;

/** How {@link JobStatsRepository.statusCounts} counted: exactly, or settled statuses estimated. */
export interface StatusCounts {
  counts: JobStatusCounts;
  /** true: every status counted row by row; false: the settled ones estimated (table over the bound). */
  exact: boolean;
}

/** What the data-and-positions gauges show (contract §9, "More metrics"). */
export interface DataStats {
  /** PENDING jobs waiting on a missing price, or on a missing FX rate. */
  waitingOnData: { price: number; fx: number };
  /** Largest number of days a key's watermark is behind the horizon (0: none behind, or no horizon). */
  watermarkLagDays: number;
  /** Position keys not CURRENT. */
  positionsReprocessing: number;
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

  /**
   * valuation_jobs{status} for every status. While the table holds fewer than `exactBelowRows` rows
   * (pg_class.reltuples, kept by autovacuum; never analyzed counts as small) every status is counted
   * exactly, one pass over the (status, id) index. Above that the settled statuses, which grow with
   * history, are estimated the way the planner does (rows per page at the last analyze × the pages
   * the table has now × the status's frequency in pg_stats), and the active ones come exact from
   * {@link activeStats}; the caller merges them. Measured in docs/benchmarks.md ("Job gauges").
   */
  async statusCounts(exactBelowRows: number): Promise<StatusCounts> {
    const [size] = await this.ds.query<{ estimate: number | null }[]>(
      `SELECT CASE WHEN c.reltuples < 0 OR c.relpages = 0 THEN NULL
                   ELSE c.reltuples / c.relpages
                        * (pg_relation_size(c.oid) / current_setting('block_size')::int) END::float8 AS estimate
         FROM pg_class c WHERE c.oid = 'portfolio_valuation_jobs'::regclass`,
    );
    const counts = Object.fromEntries(ALL_STATUSES.map((s) => [s, 0])) as JobStatusCounts;
    if (size.estimate === null || size.estimate < exactBelowRows) {
      const rows = await this.ds.query<{ status: keyof JobStatusCounts; n: string }[]>(
        `SELECT status, count(*) AS n FROM portfolio_valuation_jobs GROUP BY status`,
      );
      for (const r of rows) if (r.status in counts) counts[r.status] = Number(r.n);
      return { counts, exact: true };
    }
    const rows = await this.ds.query<{ status: keyof JobStatusCounts; freq: number }[]>(
      `SELECT v.status, v.freq::float8 AS freq
         FROM pg_stats s,
              unnest(s.most_common_vals::text::text[], s.most_common_freqs) AS v(status, freq)
        WHERE s.schemaname = current_schema() AND s.tablename = 'portfolio_valuation_jobs'
          AND s.attname = 'status'`,
    );
    for (const r of rows) if (r.status in counts) counts[r.status] = Math.round(r.freq * size.estimate);
    return { counts, exact: false };
  }

  /**
   * The data-and-positions gauges in one statement. Waiting jobs are counted from the partial index
   * valuation_jobs_waiting_idx (index only). The lag of a key is horizon − watermark in days; a key
   * with no watermark yet counts from the day before its current epoch's first position date (the
   * first day it must value), and a key with neither is not behind anything. Only keys whose
   * watermark is null or before the horizon, or that are not CURRENT, are looked at.
   */
  async dataStats(horizon: string | null): Promise<DataStats> {
    const [r] = await this.ds.query<{ price: string; fx: string; lag: number; reprocessing: string }[]>(
      `WITH waiting AS (
         SELECT count(*) FILTER (WHERE waiting_on LIKE 'PRICE:%') AS price,
                count(*) FILTER (WHERE waiting_on LIKE 'FX:%') AS fx
           FROM portfolio_valuation_jobs WHERE status = 'PENDING' AND waiting_on IS NOT NULL),
       behind AS (
         SELECT ps.status,
                $1::date - COALESCE(ps.watermark_date,
                                    (SELECT min(h.position_date) - 1 FROM position_history h
                                      WHERE h.portfolio_id = ps.portfolio_id AND h.security_id = ps.security_id
                                        AND h.epoch = ps.epoch)) AS lag
           FROM position_state ps
          WHERE ps.status <> 'CURRENT' OR ps.watermark_date IS NULL OR ps.watermark_date < $1::date)
       SELECT w.price, w.fx,
              (SELECT COALESCE(greatest(max(lag), 0), 0) FROM behind)::int AS lag,
              (SELECT count(*) FROM behind WHERE status <> 'CURRENT') AS reprocessing
         FROM waiting w`,
      [horizon],
    );
    return {
      waitingOnData: { price: Number(r.price), fx: Number(r.fx) },
      watermarkLagDays: Number(r.lag),
      positionsReprocessing: Number(r.reprocessing),
    };
  }
}
