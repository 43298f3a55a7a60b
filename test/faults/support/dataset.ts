import type { Pool } from 'pg';

/**
 * A book of `portfolios` × `holdings` positions valued over `days` consecutive business dates, one
 * PENDING job per (position, day) as an upstream writer inserts it. Every input is chosen so that
 * every expected amount is exact to 10 places (integer quantities, prices with 2 decimals, direct FX
 * rates with 4), so the invariant check can recompute each snapshot in SQL and compare strings.
 */
export interface DatasetSpec {
  portfolios: number;
  /** Securities held by each portfolio (taken round-robin from `securities`). */
  holdings: number;
  securities: number;
  days: number;
  /** First business date (YYYY-MM-DD); the last one is the valuation horizon. */
  start?: string;
  /** Ids are prefixed so that two datasets can live side by side (e.g. a never-priced one). */
  prefix?: string;
  /** false: no market price at all for these securities (data that never arrives). */
  priced?: boolean;
}

export const DEFAULT_START = '2024-06-03';

/** One statement of data-modifying CTEs: reference data, positions, position state and jobs. */
const SEED_SQL = `
  WITH p AS (SELECT n, $7 || 'PF' || lpad(n::text, 5, '0') AS portfolio_id,
                    CASE WHEN n % 3 = 0 THEN 'EUR' ELSE 'USD' END AS base_currency
               FROM generate_series(1, $1::int) n),
  s AS (SELECT n, $7 || 'SEC' || lpad(n::text, 4, '0') AS security_id,
               (ARRAY['USD', 'EUR', 'GBP'])[1 + n % 3] AS currency
          FROM generate_series(1, $3::int) n),
  d AS (SELECT i, $5::date + i AS day FROM generate_series(0, $4::int - 1) i),
  h AS (SELECT p.n AS pn, p.portfolio_id, s.n AS sn, s.security_id
          FROM p CROSS JOIN generate_series(0, $2::int - 1) k
          JOIN s ON s.n = 1 + (p.n * 7 + k) % $3::int),
  ins_p AS (INSERT INTO portfolios (portfolio_id, base_currency)
            SELECT portfolio_id, base_currency FROM p RETURNING 1),
  ins_s AS (INSERT INTO instruments (security_id, currency, name, product_type)
            SELECT security_id, currency, 'Fault suite security ' || n, 'EQUITY' FROM s RETURNING 1),
  ins_d AS (INSERT INTO business_dates (calendar_code, date)
            SELECT 'GLOBAL', day FROM d ON CONFLICT DO NOTHING RETURNING 1),
  ins_px AS (INSERT INTO market_prices (security_id, price_date, price, currency)
             SELECT s.security_id, d.day, 100 + s.n + d.i * 0.25, s.currency
               FROM s CROSS JOIN d WHERE $6::bool RETURNING 1),
  ins_fx AS (INSERT INTO fx_rates (from_currency, to_currency, rate_date, rate)
             SELECT f, t, d.day, r + d.i * 0.001
               FROM (VALUES ('EUR', 'USD', 1.0800), ('GBP', 'USD', 1.2650),
                            ('USD', 'EUR', 0.9250), ('GBP', 'EUR', 1.1700)) AS fx(f, t, r)
              CROSS JOIN d
             ON CONFLICT DO NOTHING RETURNING 1),
  ins_h AS (INSERT INTO position_history
              (portfolio_id, security_id, position_date, epoch, quantity, cost_basis, cost_basis_local)
            SELECT portfolio_id, security_id, $5::date, 0, 10 + (pn * 7 + sn) % 90,
                   (10 + (pn * 7 + sn) % 90) * 101.5, (10 + (pn * 7 + sn) % 90) * 95.25
              FROM h RETURNING 1),
  ins_ps AS (INSERT INTO position_state (portfolio_id, security_id)
             SELECT portfolio_id, security_id FROM h RETURNING 1),
  ins_j AS (INSERT INTO portfolio_valuation_jobs (portfolio_id, security_id, valuation_date, epoch, status)
            SELECT h.portfolio_id, h.security_id, d.day, 0, 'PENDING' FROM h CROSS JOIN d RETURNING 1)
  SELECT (SELECT count(*) FROM ins_j)::int AS jobs, (SELECT count(*) FROM ins_h)::int AS positions,
         (SELECT count(*) FROM ins_px)::int AS prices, (SELECT count(*) FROM ins_fx)::int AS rates`;

export interface SeededDataset {
  jobs: number;
  positions: number;
  prices: number;
  rates: number;
  start: string;
  horizon: string;
}

export async function seedDataset(db: Pool, spec: DatasetSpec): Promise<SeededDataset> {
  if (spec.holdings > spec.securities) throw new Error('a portfolio cannot hold more securities than exist');
  const start = spec.start ?? DEFAULT_START;
  const { rows } = await db.query<Omit<SeededDataset, 'start' | 'horizon'>>(SEED_SQL, [
    spec.portfolios,
    spec.holdings,
    spec.securities,
    spec.days,
    start,
    spec.priced ?? true,
    spec.prefix ?? '',
  ]);
  return { ...rows[0], start, horizon: addDays(start, spec.days - 1) };
}

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}
