import type { Client } from 'pg';

/**
 * A synthetic book, generated set-based in the database (one INSERT … SELECT per table), so even
 * a million rows load in seconds. Deterministic: the same spec gives the same rows every run.
 *
 * - portfolios P000001… with base currencies USD, EUR, GBP, CHF (mostly USD/EUR);
 * - securities S0001… in USD, EUR, GBP, CHF and JPY; one in twenty is quoted in USD although it trades
 *   in another currency (the price-conversion path);
 * - a close price for every security and every day, and FX for every day for the ten pairs of the
 *   five currencies, stored one way only (FROM < TO), so half the lookups take the inverse rate;
 * - each portfolio holds `positionsPerPortfolio` distinct securities; half the positions trade again
 *   on day 3, one in a hundred is closed (quantity 0) then;
 * - position_state is backfilled to the horizon (the bench inserts jobs itself) with the watermark
 *   before the first day, so the scheduler's watermark step has real work while jobs settle.
 */
export interface DatasetSpec {
  portfolios: number;
  positionsPerPortfolio: number;
  securities: number;
  /** Valuation days: jobs are for START … START + days - 1 (the horizon). */
  days: number;
  /** The first `n` securities have no price at all (jobs wait on PRICE). */
  unpricedSecurities?: number;
}

export const START = '2025-01-06';
export const CURRENCIES = ['USD', 'EUR', 'GBP', 'CHF', 'JPY'] as const;
// Units of USD per unit, for rates that are roughly right.
const USD_VALUE: Record<string, number> = {
  USD: 1,
  EUR: 1.08,
  GBP: 1.27,
  CHF: 1.12,
  JPY: 0.0067,
  SEK: 0.095,
};

export function horizon(spec: Pick<DatasetSpec, 'days'>): string {
  return addDays(START, spec.days - 1);
}

export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

export async function loadDataset(db: Client, spec: DatasetSpec): Promise<void> {
  const end = horizon(spec);
  // Prices and rates start a few days early, so day one finds a price dated on it and older ones too.
  const first = addDays(START, -5);
  await db.query('BEGIN');
  await db.query(
    `INSERT INTO business_dates (date) SELECT d::date FROM generate_series($1::date, $2::date, '1 day') d`,
    [START, end],
  );
  await db.query(
    `INSERT INTO portfolios (portfolio_id, base_currency)
     SELECT 'P' || lpad(g::text, 6, '0'), (ARRAY['USD','EUR','USD','GBP','EUR','CHF'])[1 + g % 6]
       FROM generate_series(1, $1::int) g`,
    [spec.portfolios],
  );
  await db.query(
    `INSERT INTO instruments (security_id, currency, name, product_type)
     SELECT 'S' || lpad(g::text, 4, '0'), ($2::text[])[1 + g % 5], 'Security ' || g, 'EQUITY'
       FROM generate_series(1, $1::int) g`,
    [spec.securities, CURRENCIES],
  );
  await insertPrices(db, first, end, `i.security_id > 'S' || lpad($3::text, 4, '0')`, [
    spec.unpricedSecurities ?? 0,
  ]);
  await insertRates(db, [...CURRENCIES], first, end);
  await db.query(
    `INSERT INTO position_history (portfolio_id, security_id, position_date, quantity, cost_basis, cost_basis_local)
     SELECT p, s, $4::date, q, round(q * 9.5 * 1.05, 10), round(q * 9.5, 10)
       FROM (SELECT 'P' || lpad(pi::text, 6, '0') AS p,
                    'S' || lpad((1 + (pi * 37 + k * ($2::int / $3::int)) % $2::int)::text, 4, '0') AS s,
                    (10 + (pi * 7 + k * 13) % 990)::numeric AS q
               FROM generate_series(1, $1::int) pi, generate_series(0, $3::int - 1) k) x`,
    [spec.portfolios, spec.securities, spec.positionsPerPortfolio, START],
  );
  // A second trade on day 3 for half the positions (a position lookup that must pick the right row).
  await db.query(
    `INSERT INTO position_history (portfolio_id, security_id, position_date, quantity, cost_basis, cost_basis_local)
     SELECT portfolio_id, security_id, $1::date + 2,
            CASE WHEN id % 100 = 0 THEN 0 ELSE quantity + 5 END, cost_basis + 50, cost_basis_local + 47.5
       FROM position_history WHERE id % 2 = 0`,
    [START],
  );
  await db.query(
    `INSERT INTO position_state (portfolio_id, security_id, epoch, watermark_date, backfilled_epoch, backfilled_through)
     SELECT DISTINCT portfolio_id, security_id, 0, $1::date - 1, 0, $2::date FROM position_history`,
    [START, end],
  );
  await db.query('COMMIT');
  await db.query('ANALYZE');
}

/**
 * Daily closes for the instruments `i` matching `where` (its parameters from $3), in their currency,
 * one in twenty quoted in USD.
 */
export async function insertPrices(
  db: Client,
  from: string,
  to: string,
  where: string,
  params: unknown[] = [],
): Promise<void> {
  await db.query(
    `INSERT INTO market_prices (security_id, price_date, price, currency)
     SELECT i.security_id, d::date,
            round((5 + abs(hashtext(i.security_id)) % 500 + extract(doy FROM d) * 0.01)::numeric, 4),
            CASE WHEN abs(hashtext(i.security_id)) % 20 = 0 THEN 'USD' ELSE i.currency END
       FROM instruments i, generate_series($1::date, $2::date, '1 day') d
      WHERE ${where}`,
    [from, to, ...params],
  );
}

/** FX for every pair FROM < TO of `currencies`, every day (the other direction is the inverse). */
export async function insertRates(db: Client, currencies: string[], from: string, to: string): Promise<void> {
  await db.query(
    `INSERT INTO fx_rates (from_currency, to_currency, rate_date, rate)
     SELECT a.c, b.c, d::date, round((a.v / b.v * (1 + extract(doy FROM d) * 0.0001))::numeric, 10)
       FROM unnest($1::text[], $2::float8[]) a(c, v), unnest($1::text[], $2::float8[]) b(c, v),
            generate_series($3::date, $4::date, '1 day') d
      WHERE a.c < b.c`,
    [currencies, currencies.map((c) => USD_VALUE[c]), from, to],
  );
}

/**
 * Inserts `n` PENDING jobs for the dataset's positions, day by day (after the first `offset` keys),
 * due at `dueAt` (a timestamp expression), as an upstream service may: every other column takes its
 * default. Returns the count.
 */
export async function insertJobs(
  db: Client,
  n: number,
  days: number,
  dueAt: string,
  offset = 0,
): Promise<number> {
  const res = await db.query(
    `INSERT INTO portfolio_valuation_jobs (portfolio_id, security_id, valuation_date, next_attempt_at)
     SELECT ps.portfolio_id, ps.security_id, $2::date + d, ${dueAt}
       FROM position_state ps, generate_series(0, $3::int - 1) d
      ORDER BY d, ps.portfolio_id, ps.security_id
      LIMIT $1 OFFSET $4`,
    [n, START, days, offset],
  );
  return res.rowCount ?? 0;
}

export const ETF = 'ETF1';

/**
 * `holders` portfolios E000001… (USD and EUR) each holding the USD ETF, whose price of `date` is
 * missing: their jobs of that day are COMPLETE with a VALUED_STALE snapshot at the day before's
 * price, as if valued before the price arrived. The ETF has a price every other day, so the
 * back-dated price re-opens exactly these jobs (the window ends at the next day's price).
 */
export async function addEtfHolders(db: Client, holders: number, days: number, date: string): Promise<void> {
  const end = horizon({ days });
  await db.query('BEGIN');
  await db.query(`INSERT INTO instruments VALUES ($1, 'USD', 'Broad market ETF', 'ETF')`, [ETF]);
  await db.query(
    `INSERT INTO market_prices (security_id, price_date, price, currency)
     SELECT $1, d::date, round((400 + extract(doy FROM d))::numeric, 4), 'USD'
       FROM generate_series($2::date, $3::date, '1 day') d WHERE d::date <> $4::date`,
    [ETF, addDays(START, -5), end, date],
  );
  await db.query(
    `INSERT INTO portfolios (portfolio_id, base_currency)
     SELECT 'E' || lpad(g::text, 6, '0'), CASE WHEN g % 2 = 0 THEN 'EUR' ELSE 'USD' END
       FROM generate_series(1, $1::int) g`,
    [holders],
  );
  await db.query(
    `INSERT INTO position_history (portfolio_id, security_id, position_date, quantity, cost_basis, cost_basis_local)
     SELECT 'E' || lpad(g::text, 6, '0'), $2, $3::date, 10 + g % 90, (10 + g % 90) * 380, (10 + g % 90) * 400
       FROM generate_series(1, $1::int) g`,
    [holders, ETF, START],
  );
  await db.query(
    `INSERT INTO position_state (portfolio_id, security_id, epoch, watermark_date, backfilled_epoch, backfilled_through)
     SELECT portfolio_id, security_id, 0, $2::date, 0, $2::date FROM position_history WHERE security_id = $1`,
    [ETF, end],
  );
  await db.query(
    `INSERT INTO portfolio_valuation_jobs (portfolio_id, security_id, valuation_date, status, attempt_count)
     SELECT portfolio_id, security_id, $2::date, 'COMPLETE', 1 FROM position_history WHERE security_id = $1`,
    [ETF, date],
  );
  await db.query(
    `INSERT INTO daily_position_snapshots (portfolio_id, security_id, date, quantity, cost_basis, cost_basis_local,
                                           market_price, market_value, market_value_local, unrealized_gain_loss,
                                           unrealized_gain_loss_local, valuation_status)
     SELECT h.portfolio_id, h.security_id, $2::date, h.quantity, h.cost_basis, h.cost_basis_local, m.price,
            h.quantity * m.price, h.quantity * m.price, h.quantity * m.price - h.cost_basis,
            h.quantity * m.price - h.cost_basis_local, 'VALUED_STALE'
       FROM position_history h
       JOIN market_prices m ON m.security_id = h.security_id AND m.price_date = $2::date - 1
      WHERE h.security_id = $1`,
    [ETF, date],
  );
  await db.query('COMMIT');
  await db.query('ANALYZE');
}
