import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { nextCursor, type KeyRow, type PositionKey } from './position-key';

export interface BackfillPass {
  horizon: string;
  /** Resume after this key (null: from the first key). */
  after: PositionKey | null;
  /** Keys looked at in this pass. */
  keyLimit: number;
  /** Job rows this pass may create, over all its keys. */
  rowLimit: number;
}

export interface BackfillResult {
  keysSeen: number;
  jobsCreated: number;
  resumeAfter: PositionKey | null;
}

/**
 * One bounded backfill pass in one statement. For the next `$2` eligible keys after the cursor
 * (epoch not yet backfilled, or backfilled short of the horizon, and watermark before it):
 *
 * - from = max(first position date of the current epoch, watermark + 1, backfilled_through + 1 when
 *   the same epoch was partly backfilled); a key with no position history yet has no range.
 * - the row budget `$5` is handed out in key order; a key gets what it wants or what is left.
 * - jobs are inserted with ON CONFLICT DO NOTHING, so an existing job (COMPLETE or not) is untouched.
 * - backfilled_epoch/backfilled_through record the progress, only if the epoch did not move meanwhile
 *   (an upstream rewrite in between makes the key eligible again).
 */
const SQL = `
  WITH keys AS (
    SELECT ps.portfolio_id, ps.security_id, ps.epoch, ps.watermark_date, ps.backfilled_epoch,
           ps.backfilled_through
      FROM position_state ps
     WHERE (ps.backfilled_epoch IS DISTINCT FROM ps.epoch OR ps.backfilled_through IS NULL
            OR ps.backfilled_through < $1::date)
       AND (ps.watermark_date IS NULL OR ps.watermark_date < $1::date)
       AND ($3::text IS NULL OR (ps.portfolio_id, ps.security_id) > ($3::text, $4::text))
     ORDER BY ps.portfolio_id, ps.security_id
     LIMIT $2),
  ranges AS (
    SELECT k.portfolio_id, k.security_id, k.epoch,
           CASE WHEN fp.first_date IS NOT NULL
                THEN greatest(fp.first_date, k.watermark_date + 1,
                              CASE WHEN k.backfilled_epoch = k.epoch THEN k.backfilled_through + 1 END)
           END AS from_date
      FROM keys k
      LEFT JOIN LATERAL (
        SELECT min(ph.position_date) AS first_date FROM position_history ph
         WHERE ph.portfolio_id = k.portfolio_id AND ph.security_id = k.security_id AND ph.epoch = k.epoch
      ) fp ON true),
  wanted AS (
    SELECT r.*, greatest(0, $1::date - r.from_date + 1) AS wanted FROM ranges r),
  planned AS (
    SELECT w.*,
           least(w.wanted, greatest(0, $5::int - w.before))::int AS granted
      FROM (SELECT w.*, COALESCE(sum(w.wanted) OVER (ORDER BY w.portfolio_id, w.security_id
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
              FROM wanted w) w),
  created AS (
    INSERT INTO portfolio_valuation_jobs (portfolio_id, security_id, valuation_date, epoch)
    SELECT p.portfolio_id, p.security_id, p.from_date + g.n, p.epoch
      FROM planned p CROSS JOIN LATERAL generate_series(0, p.granted - 1) AS g(n)
     WHERE p.granted > 0
    ON CONFLICT (portfolio_id, security_id, valuation_date, epoch) DO NOTHING
    RETURNING 1),
  marked AS (
    UPDATE position_state ps
       SET backfilled_epoch = p.epoch,
           backfilled_through = CASE WHEN p.granted = p.wanted THEN $1::date
                                     ELSE p.from_date + p.granted - 1 END
      FROM planned p
     WHERE ps.portfolio_id = p.portfolio_id AND ps.security_id = p.security_id AND ps.epoch = p.epoch
       AND p.from_date IS NOT NULL AND (p.granted > 0 OR p.wanted = 0)
    RETURNING 1)
  SELECT p.portfolio_id, p.security_id,
         (p.from_date IS NULL OR p.wanted = 0 OR p.granted > 0) AS settled,
         (SELECT count(*) FROM created)::int AS created
    FROM planned p
   ORDER BY p.portfolio_id, p.security_id`;

interface PassRow extends KeyRow {
  settled: boolean;
  created: number;
}

/** Creates the jobs of the current epoch of each position up to the valuation horizon. */
@Injectable()
export class BackfillRepository {
  constructor(private readonly ds: DataSource) {}

  async backfill(pass: BackfillPass): Promise<BackfillResult> {
    const rows = await this.ds.query<PassRow[]>(SQL, [
      pass.horizon,
      pass.keyLimit,
      pass.after?.portfolioId ?? null,
      pass.after?.securityId ?? null,
      pass.rowLimit,
    ]);
    // The next pass resumes before the first key the row budget cut off.
    const firstUnsettled = rows.findIndex((r) => !r.settled);
    const settled = firstUnsettled === -1 ? rows.length : firstUnsettled;
    return {
      keysSeen: settled,
      jobsCreated: rows[0]?.created ?? 0,
      resumeAfter: nextCursor(rows, settled, pass.keyLimit),
    };
  }
}
