import type { SchedulerSettings } from '@app/config';

/**
 * Per-cycle bounds of each step, so one slow step (a 100,000-position fan-out, a new horizon for
 * every key) is spread over cycles instead of starving dispatch. All derive from the batch size.
 */
export interface CycleLimits {
  /** Expired claims recovered per cycle. */
  recoverRows: number;
  /** Obsolete jobs superseded per cycle. */
  supersedeRows: number;
  /** Position keys looked at, and job rows created, by one backfill pass. */
  backfillKeys: number;
  backfillRows: number;
  /** Open triggers taken per cycle, jobs per trigger chunk, and the cycle's total for fan-out. */
  fanOutTriggers: number;
  fanOutChunk: number;
  fanOutRows: number;
  /** Position keys looked at by one watermark pass. */
  watermarkKeys: number;
  /** Claim-and-publish rounds per cycle (each at most one batch). */
  dispatchRounds: number;
  /**
   * Rows the retention step deletes per cycle from each table (published outbox events, finished
   * triggers): enough to keep up with the pipeline's sustained rate, small enough that a first purge
   * of a table that grew for months is spread over cycles in short statements.
   */
  purgeRows: number;
  /**
   * A dispatch publish not acknowledged by then is given up and its claims released. With the broker
   * down, kafkajs retries a send (and the connection under it) for the best part of a minute, which
   * would freeze the whole cycle, recovery and gauges included, on one batch.
   */
  dispatchPublishTimeoutMs: number;
  /**
   * valuation_jobs{status} is counted exactly, every status every cycle, while the job table holds
   * fewer rows than this (pg_class.reltuples); above it the settled statuses (COMPLETE, SKIPPED_*)
   * are estimated from the statistics and the others stay exact. An exact count reads the whole
   * table: about 25 ms at 100,000 jobs, 0.4-0.6 s at 1,000,000 (docs/benchmarks.md, "Job gauges").
   */
  exactJobCountMaxRows: number;
}

export const CYCLE_LIMITS = Symbol('CYCLE_LIMITS');

export function cycleLimitsFor(s: SchedulerSettings): CycleLimits {
  const b = s.batchSize;
  return {
    recoverRows: b,
    supersedeRows: b * 4,
    backfillKeys: b * 2,
    backfillRows: b * 10,
    fanOutTriggers: Math.max(10, Math.ceil(b / 5)),
    fanOutChunk: b * 4,
    fanOutRows: b * 10,
    watermarkKeys: b * 4,
    dispatchRounds: Math.min(20, Math.max(1, Math.ceil(s.maxInFlight / b))),
    purgeRows: b * 4,
    dispatchPublishTimeoutMs: 10_000,
    exactJobCountMaxRows: 100_000,
  };
}
