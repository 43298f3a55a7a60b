import { Client } from 'pg';

/** Tables the specs reset between cases (everything except the migrations bookkeeping). */
const TABLES = [
  'portfolios',
  'instruments',
  'market_prices',
  'fx_rates',
  'business_dates',
  'position_history',
  'position_state',
  'daily_position_snapshots',
  'portfolio_valuation_jobs',
  'valuation_outbox',
  'valuation_triggers',
  'valuation_revaluations',
  'operator_audit',
  'valuation_job_attempts',
];

export function testDatabaseUrl(): string {
  const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/valuation_test';
  if (!/test/i.test(new URL(url).pathname)) throw new Error(`refusing non-test database ${url}`);
  return url;
}

/** A plain pg client on the test database, for arranging rows and asserting on them. */
export async function connectTestDb(): Promise<Client> {
  const client = new Client({ connectionString: testDatabaseUrl() });
  await client.connect();
  return client;
}

export async function resetTables(db: Client): Promise<void> {
  await db.query(`TRUNCATE ${TABLES.join(', ')} RESTART IDENTITY`);
}

export interface PositionRow {
  portfolioId: string;
  securityId: string;
  date: string;
  quantity: string;
  costBasis: string;
  costBasisLocal: string;
  epoch?: number;
}

/** Small, explicit arrangers: each writes rows exactly as an upstream service would. */
export const seed = {
  portfolio: (db: Client, portfolioId: string, baseCurrency: string) =>
    db.query('INSERT INTO portfolios (portfolio_id, base_currency) VALUES ($1, $2)', [
      portfolioId,
      baseCurrency,
    ]),
  instrument: (db: Client, securityId: string, currency: string, productType: string | null = null) =>
    db.query('INSERT INTO instruments (security_id, currency, product_type) VALUES ($1, $2, $3)', [
      securityId,
      currency,
      productType,
    ]),
  price: (db: Client, securityId: string, date: string, price: string, currency: string) =>
    db.query('INSERT INTO market_prices (security_id, price_date, price, currency) VALUES ($1, $2, $3, $4)', [
      securityId,
      date,
      price,
      currency,
    ]),
  fx: (db: Client, from: string, to: string, date: string, rate: string) =>
    db.query('INSERT INTO fx_rates (from_currency, to_currency, rate_date, rate) VALUES ($1, $2, $3, $4)', [
      from,
      to,
      date,
      rate,
    ]),
  businessDate: (db: Client, date: string, calendar = 'GLOBAL') =>
    db.query('INSERT INTO business_dates (calendar_code, date) VALUES ($1, $2)', [calendar, date]),
  position: (db: Client, p: PositionRow) =>
    db.query(
      `INSERT INTO position_history (portfolio_id, security_id, position_date, epoch, quantity, cost_basis, cost_basis_local)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [p.portfolioId, p.securityId, p.date, p.epoch ?? 0, p.quantity, p.costBasis, p.costBasisLocal],
    ),
  positionState: (
    db: Client,
    portfolioId: string,
    securityId: string,
    epoch = 0,
    watermark: string | null = null,
  ) =>
    db.query(
      'INSERT INTO position_state (portfolio_id, security_id, epoch, watermark_date) VALUES ($1, $2, $3, $4)',
      [portfolioId, securityId, epoch, watermark],
    ),
  /** A job as an upstream writer inserts it: status PENDING, every other column left to its default. */
  job: async (
    db: Client,
    portfolioId: string,
    securityId: string,
    date: string,
    epoch = 0,
  ): Promise<string> => {
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO portfolio_valuation_jobs (portfolio_id, security_id, valuation_date, epoch, status)
       VALUES ($1, $2, $3, $4, 'PENDING') RETURNING id::text`,
      [portfolioId, securityId, date, epoch],
    );
    return rows[0].id;
  },
};

/** Polls until `probe` returns a value (not undefined) or the time is up; for effects of other processes. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 20000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
