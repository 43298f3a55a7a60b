import type { EntityManager } from 'typeorm';
import type { FxQuotes, JobKey, JobState, JobStatus } from '@app/valuation';

interface Row {
  job_id: string | null;
  status: JobStatus | null;
  attempt_count: number | null;
  claim_token: string | null;
  due: boolean | null;
  correlation_id: string | null;
  current_epoch: number | null;
  quantity: string | null;
  cost_basis: string | null;
  cost_basis_local: string | null;
  base_currency: string | null;
  instrument_currency: string | null;
  price: string | null;
  price_date: string | null;
  price_currency: string | null;
  pfx_rate: string | null;
  pfx_date: string | null;
  pfx_inv_rate: string | null;
  pfx_inv_date: string | null;
  bfx_rate: string | null;
  bfx_date: string | null;
  bfx_inv_rate: string | null;
  bfx_inv_date: string | null;
}

/** The currency test sits inside the subquery, where it gates the probe: most rows need no rate. */
const latestRate = (alias: string, from: string, to: string) => `
  LEFT JOIN LATERAL (
    SELECT f.rate, to_char(f.rate_date, 'YYYY-MM-DD') AS rate_date FROM fx_rates f
     WHERE ${from} <> ${to}
       AND f.from_currency = ${from} AND f.to_currency = ${to} AND f.rate_date <= r.valuation_date
     ORDER BY f.rate_date DESC LIMIT 1) ${alias} ON true`;

/**
 * One round trip for a whole batch: each request's job row, current epoch, position, portfolio,
 * instrument, latest price and the four FX lookups (direct and inverse for the price conversion and
 * for the base conversion), each an index probe on a primary key or the position index. The current
 * epoch is a per-row probe too: joined, the planner hashed the whole of position_state for every
 * batch (12 of 64 ms for 500 jobs over 20,000 keys).
 */
const SQL = `
  WITH r AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::int[]) WITH ORDINALITY
      AS r(portfolio_id, security_id, valuation_date, epoch, idx))
  SELECT j.id AS job_id, j.status, j.attempt_count, j.claim_token::text, j.correlation_id,
         COALESCE(j.next_attempt_at, j.created_at) <= now() AS due,
         (SELECT ps.epoch FROM position_state ps
           WHERE ps.portfolio_id = r.portfolio_id AND ps.security_id = r.security_id) AS current_epoch,
         pos.quantity, pos.cost_basis, pos.cost_basis_local,
         pf.base_currency, ins.currency AS instrument_currency,
         mp.price, mp.price_date, mp.currency AS price_currency,
         pfx.rate AS pfx_rate, pfx.rate_date AS pfx_date, pfxi.rate AS pfx_inv_rate, pfxi.rate_date AS pfx_inv_date,
         bfx.rate AS bfx_rate, bfx.rate_date AS bfx_date, bfxi.rate AS bfx_inv_rate, bfxi.rate_date AS bfx_inv_date
    FROM r
    LEFT JOIN portfolio_valuation_jobs j
      ON j.portfolio_id = r.portfolio_id AND j.security_id = r.security_id
     AND j.valuation_date = r.valuation_date AND j.epoch = r.epoch
    LEFT JOIN LATERAL (
      SELECT h.quantity, h.cost_basis, h.cost_basis_local FROM position_history h
       WHERE h.portfolio_id = r.portfolio_id AND h.security_id = r.security_id AND h.epoch = r.epoch
         AND h.position_date <= r.valuation_date
       ORDER BY h.position_date DESC, h.id DESC LIMIT 1) pos ON true
    LEFT JOIN portfolios pf ON pf.portfolio_id = r.portfolio_id
    LEFT JOIN instruments ins ON ins.security_id = r.security_id
    LEFT JOIN LATERAL (
      SELECT m.price, to_char(m.price_date, 'YYYY-MM-DD') AS price_date, m.currency FROM market_prices m
       WHERE m.security_id = r.security_id AND m.price_date <= r.valuation_date
       ORDER BY m.price_date DESC LIMIT 1) mp ON true
    ${latestRate('pfx', 'mp.currency', 'ins.currency')}
    ${latestRate('pfxi', 'ins.currency', 'mp.currency')}
    ${latestRate('bfx', 'ins.currency', 'pf.base_currency')}
    ${latestRate('bfxi', 'pf.base_currency', 'ins.currency')}
   ORDER BY r.idx`;

const quotes = (
  rate: string | null,
  date: string | null,
  inv: string | null,
  invDate: string | null,
): FxQuotes => ({
  direct: rate !== null && date !== null ? { rate, rateDate: date } : null,
  inverse: inv !== null && invDate !== null ? { rate: inv, rateDate: invDate } : null,
});

/** Each key's job as the attempt finds it, in key order; a key with no job gets a null jobId. */
export async function loadValuationInputs(
  manager: EntityManager,
  keys: readonly JobKey[],
): Promise<JobState[]> {
  const rows = await manager.query<Row[]>(SQL, [
    keys.map((k) => k.portfolioId),
    keys.map((k) => k.securityId),
    keys.map((k) => k.valuationDate),
    keys.map((k) => k.epoch),
  ]);
  return rows.map((row, i) => ({
    jobId: row.job_id === null ? null : String(row.job_id),
    status: row.status,
    attemptCount: row.attempt_count ?? 0,
    claimToken: row.claim_token,
    due: row.due === true,
    correlationId: row.correlation_id,
    input: {
      job: keys[i],
      currentEpoch: row.current_epoch,
      position:
        row.quantity === null
          ? null
          : { quantity: row.quantity, costBasis: row.cost_basis!, costBasisLocal: row.cost_basis_local! },
      baseCurrency: row.base_currency,
      instrumentCurrency: row.instrument_currency,
      price:
        row.price === null
          ? null
          : { price: row.price, priceDate: row.price_date!, currency: row.price_currency! },
      priceFx: quotes(row.pfx_rate, row.pfx_date, row.pfx_inv_rate, row.pfx_inv_date),
      baseFx: quotes(row.bfx_rate, row.bfx_date, row.bfx_inv_rate, row.bfx_inv_date),
    },
  }));
}
