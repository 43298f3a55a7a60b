import { Client } from 'pg';
import { type PositionRow, seedBook, seedJobIds } from '../../scripts/lib/seed';

export type { PositionRow };

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

/** Small, explicit arrangers of one row each, on the seeding module (scripts/lib/seed.ts). */
export const seed = {
  portfolio: (db: Client, portfolioId: string, baseCurrency: string) =>
    seedBook(db, { portfolios: [{ portfolioId, baseCurrency }] }),
  instrument: (db: Client, securityId: string, currency: string, productType: string | null = null) =>
    seedBook(db, { instruments: [{ securityId, currency, productType }] }),
  price: (db: Client, securityId: string, date: string, price: string, currency: string) =>
    seedBook(db, { prices: [{ securityId, date, price, currency }] }),
  fx: (db: Client, from: string, to: string, date: string, rate: string) =>
    seedBook(db, { fxRates: [{ from, to, date, rate }] }),
  businessDate: (db: Client, date: string, calendar = 'GLOBAL') =>
    seedBook(db, { businessDates: [{ calendarCode: calendar, date }] }),
  position: (db: Client, p: PositionRow) => seedBook(db, { positions: [{ ...p, epoch: p.epoch ?? 0 }] }),
  positionState: (
    db: Client,
    portfolioId: string,
    securityId: string,
    epoch = 0,
    watermark: string | null = null,
  ) => seedBook(db, { positionStates: [{ portfolioId, securityId, epoch, watermarkDate: watermark }] }),
  /** A job as an upstream writer inserts it: status PENDING, every other column left to its default. */
  job: async (
    db: Client,
    portfolioId: string,
    securityId: string,
    date: string,
    epoch = 0,
  ): Promise<string> => {
    const [id] = await seedJobIds(db, [{ portfolioId, securityId, date, epoch, status: 'PENDING' }]);
    return id;
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
