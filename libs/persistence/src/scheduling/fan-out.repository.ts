import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { fxWaitKey, priceWaitKey } from '@app/valuation';

/**
 * An open price or FX arrival recorded by the calculator, or an operator's revaluation, waiting to be
 * fanned out.
 */
export type OpenTrigger =
  | { id: string; kind: 'PRICE'; securityId: string }
  | { id: string; kind: 'FX'; fromCurrency: string; toCurrency: string }
  | { id: string; kind: 'REVALUATION'; portfolioId: string | null; securityId: string | null };

export interface FanOutChunk {
  /** Jobs this chunk looked at (the cursor moved past them). */
  examined: number;
  reopened: number;
  woken: number;
  completed: boolean;
}

interface TriggerRow {
  id: string;
  kind: 'PRICE' | 'FX' | 'REVALUATION';
  security_id: string | null;
  from_currency: string | null;
  to_currency: string | null;
  revaluation_portfolio_id: string | null;
  revaluation_security_id: string | null;
}

// A job re-opened by a trigger must be valued again with the new data: it is due from now (not from its
// creation), so a large fan-out queues behind the jobs already due instead of ahead of them. Terminal
// COMPLETE/FAILED jobs used the old value; a PROCESSING job claimed before the trigger was recorded may have read it too,
// so its claim is withdrawn (the worker's write is then rejected by the claim check) rather than
// letting it settle on the stale value after the cursor has passed it.
const REOPENABLE = `
  (j.status IN ('COMPLETE', 'FAILED') OR (j.status = 'PROCESSING' AND j.updated_at <= t.created_at))
  AND NOT EXISTS (SELECT 1 FROM position_state ps
                   WHERE ps.portfolio_id = j.portfolio_id AND ps.security_id = j.security_id
                     AND ps.epoch > j.epoch)`;

/** Price trigger for s dated D: s's jobs from D up to the day before s's next newer price. */
const PRICE_TRIGGER = `
  SELECT tr.id, tr.effective_date, tr.cursor_job_id, tr.created_at, tr.security_id,
         (SELECT min(mp.price_date) FROM market_prices mp
           WHERE mp.security_id = tr.security_id AND mp.price_date > tr.effective_date) AS window_end
    FROM valuation_triggers tr
   WHERE tr.id = $1 AND tr.kind = 'PRICE' AND tr.completed_at IS NULL
   FOR UPDATE OF tr`;

const PRICE_CANDIDATES = `
  SELECT j.id FROM t JOIN portfolio_valuation_jobs j ON j.security_id = t.security_id
   WHERE j.valuation_date >= t.effective_date AND (t.window_end IS NULL OR j.valuation_date < t.window_end)
     AND j.id > t.cursor_job_id AND ${REOPENABLE}
   ORDER BY j.id
   LIMIT $2::int`;

/**
 * FX trigger for A→B dated D. The window ends at the next newer A→B rate: a lookup for A→B takes the
 * latest direct rate, and one for B→A falls back to A→B only when it has no direct rate, so for both
 * the new rate stays in use until the next A→B (a newer B→A rate does not end it for A→B lookups).
 */
const FX_TRIGGER = `
  SELECT tr.id, tr.effective_date, tr.cursor_job_id, tr.created_at, tr.from_currency, tr.to_currency,
         (SELECT min(fx.rate_date) FROM fx_rates fx
           WHERE fx.from_currency = tr.from_currency AND fx.to_currency = tr.to_currency
             AND fx.rate_date > tr.effective_date) AS window_end
    FROM valuation_triggers tr
   WHERE tr.id = $1 AND tr.kind = 'FX' AND tr.completed_at IS NULL
   FOR UPDATE OF tr`;

/**
 * Jobs whose valuation converts between A and B: instrument currency and portfolio base currency
 * form the pair, or the currency of the price the job uses (latest on or before its date) and the
 * instrument currency do. Either way the instrument's currency is one of the two.
 */
const FX_CANDIDATES = `
  SELECT j.id
    FROM t
    JOIN instruments i ON i.currency IN (t.from_currency, t.to_currency)
    JOIN portfolio_valuation_jobs j ON j.security_id = i.security_id
    LEFT JOIN portfolios p ON p.portfolio_id = j.portfolio_id
   WHERE t.from_currency <> t.to_currency
     AND j.valuation_date >= t.effective_date AND (t.window_end IS NULL OR j.valuation_date < t.window_end)
     AND j.id > t.cursor_job_id AND ${REOPENABLE}
     AND (CASE WHEN i.currency = t.from_currency THEN t.to_currency ELSE t.from_currency END)
         IN (p.base_currency,
             (SELECT mp.currency FROM market_prices mp
               WHERE mp.security_id = j.security_id AND mp.price_date <= j.valuation_date
               ORDER BY mp.price_date DESC LIMIT 1))
   ORDER BY j.id
   LIMIT $2::int`;

/**
 * Revaluation (an operator's `POST /revaluations` or `npm run revalue`): the settled jobs of the
 * request's current epoch, whatever their values were: COMPLETE, FAILED and SKIPPED_NO_POSITION.
 * SKIPPED_SUPERSEDED jobs are of an older epoch by definition, and PENDING or PROCESSING ones are
 * left alone (they are about to be valued anyway).
 */
const REVALUABLE = `
  j.status IN ('COMPLETE', 'FAILED', 'SKIPPED_NO_POSITION')
  AND NOT EXISTS (SELECT 1 FROM position_state ps
                   WHERE ps.portfolio_id = j.portfolio_id AND ps.security_id = j.security_id
                     AND ps.epoch > j.epoch)`;

const REVALUATION_TRIGGER = `
  SELECT tr.id, tr.effective_date, tr.cursor_job_id, tr.created_at, tr.revaluation_id,
         r.portfolio_id, r.security_id, r.from_date, r.to_date
    FROM valuation_triggers tr JOIN valuation_revaluations r ON r.id = tr.revaluation_id
   WHERE tr.id = $1 AND tr.kind = 'REVALUATION' AND tr.completed_at IS NULL
   FOR UPDATE OF tr`;

/**
 * The request's jobs in its date range, by portfolio, security or both: one statement per shape, so
 * each joins on an index (the job key for a portfolio, `(security_id, valuation_date)` for a security).
 */
function revaluationCandidates(scope: 'portfolio' | 'security' | 'both'): string {
  const key = {
    portfolio: 'j.portfolio_id = t.portfolio_id',
    security: 'j.security_id = t.security_id',
    both: 'j.portfolio_id = t.portfolio_id AND j.security_id = t.security_id',
  }[scope];
  return `
  SELECT j.id FROM t JOIN portfolio_valuation_jobs j ON ${key}
   WHERE j.valuation_date BETWEEN t.from_date AND t.to_date
     AND j.id > t.cursor_job_id AND ${REVALUABLE}
   ORDER BY j.id
   LIMIT $2::int`;
}

/** What differs between the chunk statements of the trigger kinds. */
interface ChunkShape {
  /** Re-checked on the locked rows (`j`; the trigger is `t`). */
  reopenable: string;
  /** Wake PENDING jobs waiting on `$3` (price and FX arrivals); a revaluation has none. */
  wakeUp: boolean;
  /** Further data-modifying CTEs, which may read `t`, `counts` and `advanced`. */
  extra?: string;
}

/**
 * One chunk of one trigger in one statement: re-open up to `$2` jobs after the trigger's cursor
 * (status PENDING, due now, attempt_count kept), wake up to `$2` PENDING jobs waiting on this data
 * dated on or after D (the calculator did the same on arrival; doing it again closes the race with a
 * job that was in flight then), move the cursor, and complete the trigger once both came up short.
 */
function chunkSql(
  trigger: string,
  candidates: string,
  shape: ChunkShape = { reopenable: REOPENABLE, wakeUp: true },
): string {
  const woken = shape.wakeUp
    ? `
      UPDATE portfolio_valuation_jobs w SET next_attempt_at = now(), updated_at = now()
       WHERE w.id IN (SELECT w2.id FROM portfolio_valuation_jobs w2, t
                       WHERE w2.status = 'PENDING' AND w2.waiting_on = $3
                         AND w2.valuation_date >= t.effective_date AND w2.next_attempt_at > now()
                       LIMIT $2::int)
         AND w.status = 'PENDING' AND w.next_attempt_at > now()
      RETURNING w.id`
    : `SELECT NULL::bigint AS id WHERE false`;
  return `
    WITH t AS (${trigger}),
    candidates AS (${candidates}),
    reopened AS (
      UPDATE portfolio_valuation_jobs j
         SET status = 'PENDING', next_attempt_at = now(), waiting_on = NULL,
             claim_token = NULL, claim_expires_at = NULL, updated_at = now()
        FROM candidates c, t
       WHERE j.id = c.id AND ${shape.reopenable}
      RETURNING j.id),
    woken AS (${woken}),
    counts AS (
      SELECT (SELECT count(*) FROM candidates)::int AS examined,
             (SELECT max(id) FROM candidates) AS last_id,
             (SELECT count(*) FROM reopened)::int AS reopened,
             (SELECT count(*) FROM woken)::int AS woken),
    advanced AS (
      UPDATE valuation_triggers tr
         SET cursor_job_id = COALESCE(counts.last_id, tr.cursor_job_id),
             completed_at = CASE WHEN counts.examined < $2::int AND counts.woken < $2::int THEN now() END
        FROM t, counts
       WHERE tr.id = t.id
      RETURNING tr.completed_at IS NOT NULL AS completed)${shape.extra ?? ''}
    SELECT counts.examined, counts.reopened, counts.woken,
           COALESCE((SELECT completed FROM advanced), true) AS completed
      FROM counts`;
}

const PRICE_CHUNK = chunkSql(PRICE_TRIGGER, PRICE_CANDIDATES);
const FX_CHUNK = chunkSql(FX_TRIGGER, FX_CANDIDATES);

/** A revaluation's chunk also adds its count to the request and marks the request DONE with its trigger. */
const REVALUATION_SHAPE: ChunkShape = {
  reopenable: REVALUABLE,
  wakeUp: false,
  extra: `,
    tallied AS (
      UPDATE valuation_revaluations r
         SET jobs_reopened = r.jobs_reopened + counts.reopened,
             completed_at = CASE WHEN advanced.completed THEN now() END
        FROM t, counts, advanced
       WHERE r.id = t.revaluation_id
      RETURNING r.id)`,
};
const REVALUATION_CHUNKS = {
  portfolio: chunkSql(REVALUATION_TRIGGER, revaluationCandidates('portfolio'), REVALUATION_SHAPE),
  security: chunkSql(REVALUATION_TRIGGER, revaluationCandidates('security'), REVALUATION_SHAPE),
  both: chunkSql(REVALUATION_TRIGGER, revaluationCandidates('both'), REVALUATION_SHAPE),
};

/** The scheduler's side of price and FX arrivals: re-open the jobs that used an older value. */
@Injectable()
export class FanOutRepository {
  constructor(private readonly ds: DataSource) {}

  /** Oldest first, so a trigger waits behind at most `limit` others. */
  async openTriggers(limit: number): Promise<OpenTrigger[]> {
    const rows = await this.ds.query<TriggerRow[]>(
      `SELECT tr.id::text AS id, tr.kind, tr.security_id, tr.from_currency, tr.to_currency,
              r.portfolio_id AS revaluation_portfolio_id, r.security_id AS revaluation_security_id
         FROM valuation_triggers tr LEFT JOIN valuation_revaluations r ON r.id = tr.revaluation_id
        WHERE tr.completed_at IS NULL ORDER BY tr.id LIMIT $1`,
      [limit],
    );
    return rows.map((r): OpenTrigger => {
      switch (r.kind) {
        case 'PRICE':
          return { id: r.id, kind: 'PRICE', securityId: String(r.security_id) };
        case 'FX':
          return {
            id: r.id,
            kind: 'FX',
            fromCurrency: String(r.from_currency),
            toCurrency: String(r.to_currency),
          };
        case 'REVALUATION':
          return {
            id: r.id,
            kind: 'REVALUATION',
            portfolioId: r.revaluation_portfolio_id,
            securityId: r.revaluation_security_id,
          };
      }
    });
  }

  /** One bounded chunk of a trigger. A trigger completed or removed meanwhile counts as completed. */
  async fanOutChunk(trigger: OpenTrigger, chunkSize: number): Promise<FanOutChunk> {
    if (trigger.kind === 'REVALUATION') {
      const scope =
        trigger.portfolioId === null ? 'security' : trigger.securityId === null ? 'portfolio' : 'both';
      const [row] = await this.ds.query<FanOutChunk[]>(REVALUATION_CHUNKS[scope], [trigger.id, chunkSize]);
      return row;
    }
    const [sql, waitingOn] =
      trigger.kind === 'PRICE'
        ? [PRICE_CHUNK, priceWaitKey(trigger.securityId)]
        : [FX_CHUNK, fxWaitKey(trigger.fromCurrency, trigger.toCurrency)];
    const [row] = await this.ds.query<FanOutChunk[]>(sql, [trigger.id, chunkSize, waitingOn]);
    return row;
  }
}
