import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { waitingOnKey } from '../jobs/job-outcome.writer';

/** An open price or FX arrival recorded by the calculator, waiting to be fanned out. */
export type OpenTrigger =
  | { id: string; kind: 'PRICE'; securityId: string }
  | { id: string; kind: 'FX'; fromCurrency: string; toCurrency: string };

export interface FanOutChunk {
  /** Jobs this chunk looked at (the cursor moved past them). */
  examined: number;
  reopened: number;
  woken: number;
  completed: boolean;
}

interface TriggerRow {
  id: string;
  kind: 'PRICE' | 'FX';
  security_id: string | null;
  from_currency: string | null;
  to_currency: string | null;
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
 * One chunk of one trigger in one statement: re-open up to `$2` jobs after the trigger's cursor
 * (status PENDING, due now, attempt_count kept), wake up to `$2` PENDING jobs waiting on this data
 * dated on or after D (the calculator did the same on arrival; doing it again closes the race with a
 * job that was in flight then), move the cursor, and complete the trigger once both came up short.
 */
function chunkSql(trigger: string, candidates: string): string {
  return `
    WITH t AS (${trigger}),
    candidates AS (${candidates}),
    reopened AS (
      UPDATE portfolio_valuation_jobs j
         SET status = 'PENDING', next_attempt_at = now(), waiting_on = NULL,
             claim_token = NULL, claim_expires_at = NULL, updated_at = now()
        FROM candidates c, t
       WHERE j.id = c.id AND ${REOPENABLE}
      RETURNING j.id),
    woken AS (
      UPDATE portfolio_valuation_jobs w SET next_attempt_at = now(), updated_at = now()
       WHERE w.id IN (SELECT w2.id FROM portfolio_valuation_jobs w2, t
                       WHERE w2.status = 'PENDING' AND w2.waiting_on = $3
                         AND w2.valuation_date >= t.effective_date AND w2.next_attempt_at > now()
                       LIMIT $2::int)
         AND w.status = 'PENDING' AND w.next_attempt_at > now()
      RETURNING w.id),
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
      RETURNING tr.completed_at IS NOT NULL AS completed)
    SELECT counts.examined, counts.reopened, counts.woken,
           COALESCE((SELECT completed FROM advanced), true) AS completed
      FROM counts`;
}

const PRICE_CHUNK = chunkSql(PRICE_TRIGGER, PRICE_CANDIDATES);
const FX_CHUNK = chunkSql(FX_TRIGGER, FX_CANDIDATES);

/** The scheduler's side of price and FX arrivals: re-open the jobs that used an older value. */
@Injectable()
export class FanOutRepository {
  constructor(private readonly ds: DataSource) {}

  /** Oldest first, so a trigger waits behind at most `limit` others. */
  async openTriggers(limit: number): Promise<OpenTrigger[]> {
    const rows = await this.ds.query<TriggerRow[]>(
      `SELECT id::text AS id, kind, security_id, from_currency, to_currency FROM valuation_triggers
        WHERE completed_at IS NULL ORDER BY id LIMIT $1`,
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
      }
    });
  }

  /** One bounded chunk of a trigger. A trigger completed or removed meanwhile counts as completed. */
  async fanOutChunk(trigger: OpenTrigger, chunkSize: number): Promise<FanOutChunk> {
    const [sql, waitingOn] =
      trigger.kind === 'PRICE'
        ? [PRICE_CHUNK, waitingOnKey(trigger.securityId, { kind: 'PRICE' })]
        : [FX_CHUNK, waitingOnKey('', { kind: 'FX', from: trigger.fromCurrency, to: trigger.toCurrency })];
    const [row] = await this.ds.query<FanOutChunk[]>(sql, [trigger.id, chunkSize, waitingOn]);
    return row;
  }
}
