import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { nextCursor, type KeyRow, type PositionKey } from './position-key';

export interface WatermarkPass {
  horizon: string;
  after: PositionKey | null;
  keyLimit: number;
}

export interface WatermarkResult {
  keysSeen: number;
  advanced: number;
  resumeAfter: PositionKey | null;
}

/**
 * One bounded watermark pass in one statement, over the keys whose current epoch is backfilled past
 * their watermark. A key's watermark moves to the day before its first current-epoch job (after the
 * watermark) that is not settled without failure (PENDING, PROCESSING or FAILED), or to how far
 * backfill has created jobs (capped at the horizon) when there is none. Dates with no job inside
 * that range have no position to value. A key with no watermark yet moves only once at least one of
 * its job dates is settled. The update is a compare-and-set on epoch and watermark, so a concurrent
 * upstream rewrite (epoch bump, watermark moved back) always wins. Status becomes CURRENT only when
 * the watermark reaches the horizon; REPROCESSING below it is upstream's state and left alone.
 */
const SQL = `
  WITH keys AS (
    SELECT ps.portfolio_id, ps.security_id, ps.epoch, ps.watermark_date,
           least(ps.backfilled_through, $1::date) AS settled_limit
      FROM position_state ps
     WHERE ps.backfilled_epoch = ps.epoch AND ps.backfilled_through IS NOT NULL
       AND (ps.watermark_date IS NULL OR ps.watermark_date < least(ps.backfilled_through, $1::date))
       AND ($3::text IS NULL OR (ps.portfolio_id, ps.security_id) > ($3::text, $4::text))
     ORDER BY ps.portfolio_id, ps.security_id
     LIMIT $2),
  targets AS (
    SELECT k.*,
           COALESCE((SELECT min(j.valuation_date) FROM portfolio_valuation_jobs j
                      WHERE j.portfolio_id = k.portfolio_id AND j.security_id = k.security_id
                        AND j.epoch = k.epoch
                        AND j.valuation_date > COALESCE(k.watermark_date, '-infinity'::date)
                        AND j.valuation_date <= k.settled_limit
                        AND j.status NOT IN ('COMPLETE', 'SKIPPED_NO_POSITION', 'SKIPPED_SUPERSEDED')) - 1,
                    k.settled_limit) AS new_watermark,
           (SELECT min(j.valuation_date) FROM portfolio_valuation_jobs j
             WHERE j.portfolio_id = k.portfolio_id AND j.security_id = k.security_id AND j.epoch = k.epoch
               AND j.valuation_date > COALESCE(k.watermark_date, '-infinity'::date)) AS first_job
      FROM keys k),
  advanced AS (
    UPDATE position_state ps
       SET watermark_date = t.new_watermark,
           status = CASE WHEN t.new_watermark >= $1::date THEN 'CURRENT' ELSE ps.status END,
           updated_at = now()
      FROM targets t
     WHERE ps.portfolio_id = t.portfolio_id AND ps.security_id = t.security_id
       AND ps.epoch = t.epoch AND ps.watermark_date IS NOT DISTINCT FROM t.watermark_date
       AND (CASE WHEN t.watermark_date IS NULL THEN t.first_job IS NOT NULL AND t.new_watermark >= t.first_job
                 ELSE t.new_watermark > t.watermark_date END)
    RETURNING 1)
  SELECT k.portfolio_id, k.security_id, (SELECT count(*) FROM advanced)::int AS advanced
    FROM keys k
   ORDER BY k.portfolio_id, k.security_id`;

interface PassRow extends KeyRow {
  advanced: number;
}

/** Moves each key's watermark up to the last date whose snapshots are known complete. */
@Injectable()
export class WatermarkRepository {
  constructor(private readonly ds: DataSource) {}

  async advance(pass: WatermarkPass): Promise<WatermarkResult> {
    const rows = await this.ds.query<PassRow[]>(SQL, [
      pass.horizon,
      pass.keyLimit,
      pass.after?.portfolioId ?? null,
      pass.after?.securityId ?? null,
    ]);
    return {
      keysSeen: rows.length,
      advanced: rows[0]?.advanced ?? 0,
      resumeAfter: nextCursor(rows, rows.length, pass.keyLimit),
    };
  }
}
