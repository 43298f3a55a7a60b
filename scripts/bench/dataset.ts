import type { Client } from 'pg';
import {
  addDays,
  daysFrom,
  decimal,
  type InstrumentRow,
  numbered,
  type JobRow,
  type Moment,
  type PositionRow,
  type PositionStateRow,
  seedBook,
} from '../lib/seed';
import { closes, CURRENCIES, rates } from './market-data';

/**
 * A synthetic book, built in code and seeded in one statement (scripts/lib/seed.ts), so even a
 * million rows load in seconds. Deterministic: the same spec gives the same rows every run.
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
/** Prices and rates start a few days early, so day one finds a price dated on it and older ones too. */
export const FIRST_CLOSE = addDays(START, -5);
const BASE_CURRENCIES = ['USD', 'EUR', 'USD', 'GBP', 'EUR', 'CHF'];

export function horizon(spec: Pick<DatasetSpec, 'days'>): string {
  return addDays(START, spec.days - 1);
}

/** Securities S0001… */
export function instruments(spec: Pick<DatasetSpec, 'securities'>): InstrumentRow[] {
  return Array.from({ length: spec.securities }, (_, i) => ({
    securityId: numbered('S', i + 1, 4),
    currency: CURRENCIES[(i + 1) % CURRENCIES.length],
    name: `Security ${i + 1}`,
    productType: 'EQUITY',
  }));
}

/**
 * The first trades, in the order of their ids: position k of every portfolio, k by k. Amounts in
 * thousandths: q units cost 9.5 each locally and 9.975 in the base currency.
 */
function firstTrades(spec: DatasetSpec): PositionRow[] {
  const rows: PositionRow[] = [];
  const stride = Math.floor(spec.securities / spec.positionsPerPortfolio);
  for (let k = 0; k < spec.positionsPerPortfolio; k++)
    for (let p = 1; p <= spec.portfolios; p++) {
      const q = 10 + ((p * 7 + k * 13) % 990);
      rows.push({
        portfolioId: numbered('P', p, 6),
        securityId: numbered('S', 1 + ((p * 37 + k * stride) % spec.securities), 4),
        date: START,
        quantity: q,
        costBasis: decimal(q * 9975, 3),
        costBasisLocal: decimal(q * 9500, 3),
      });
    }
  return rows;
}

/** A second trade on day 3 for every even id (a lookup that must pick the right row); 1 in 100 closes. */
function secondTrades(first: PositionRow[]): PositionRow[] {
  return first.flatMap((row, i) => {
    const id = i + 1;
    const q = Number(row.quantity);
    if (id % 2 !== 0) return [];
    return [
      {
        ...row,
        date: addDays(START, 2),
        quantity: id % 100 === 0 ? 0 : q + 5,
        costBasis: decimal(q * 9975 + 50_000, 3),
        costBasisLocal: decimal(q * 9500 + 47_500, 3),
      },
    ];
  });
}

/** The order of PostgreSQL's C collation (the bench database's) for these ASCII ids. */
const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export type PositionKey = Pick<PositionRow, 'portfolioId' | 'securityId'>;

/** The dataset's position keys, sorted by portfolio, then security. */
function positionKeys(spec: DatasetSpec): PositionKey[] {
  return firstTrades(spec)
    .map(({ portfolioId, securityId }) => ({ portfolioId, securityId }))
    .sort((a, b) => byCodeUnits(a.portfolioId, b.portfolioId) || byCodeUnits(a.securityId, b.securityId));
}

export type JobKey = Pick<JobRow, 'portfolioId' | 'securityId' | 'date'>;

/** Every job of the dataset, day by day, then by portfolio and security. */
export function jobKeys(spec: DatasetSpec): JobKey[] {
  const keys = positionKeys(spec);
  return daysFrom(START, horizon(spec)).flatMap((date) => keys.map((k) => ({ ...k, date })));
}

/**
 * position_state of `keys` as backfill leaves it at `horizon` (the bench inserts the jobs itself),
 * with the watermark before the first day, so the watermark step has its real work as jobs settle.
 */
export function backfilled(keys: readonly PositionKey[], horizon: string): PositionStateRow[] {
  return keys.map((k) => ({
    ...k,
    epoch: 0,
    watermarkDate: addDays(START, -1),
    backfilledEpoch: 0,
    backfilledThrough: horizon,
  }));
}

export async function loadDataset(db: Client, spec: DatasetSpec): Promise<void> {
  const end = horizon(spec);
  const securities = instruments(spec);
  const first = firstTrades(spec);
  await seedBook(db, {
    businessDates: daysFrom(START, end).map((date) => ({ date })),
    portfolios: Array.from({ length: spec.portfolios }, (_, i) => ({
      portfolioId: numbered('P', i + 1, 6),
      baseCurrency: BASE_CURRENCIES[(i + 1) % BASE_CURRENCIES.length],
    })),
    instruments: securities,
    prices: await closes(db, securities.slice(spec.unpricedSecurities ?? 0), FIRST_CLOSE, end),
    fxRates: rates(CURRENCIES, FIRST_CLOSE, end),
    positions: [...first, ...secondTrades(first)],
    positionStates: backfilled(positionKeys(spec), end),
  });
  await db.query('ANALYZE');
}

/**
 * Inserts `n` PENDING jobs for the dataset's positions, day by day (after the first `offset` keys),
 * due at `dueAt`, as an upstream service may: every other column takes its default. Returns the count.
 */
export async function insertJobs(
  db: Client,
  spec: DatasetSpec,
  n: number,
  dueAt: Moment,
  offset = 0,
): Promise<number> {
  const jobs = jobKeys(spec)
    .slice(offset, offset + n)
    .map((k) => ({ ...k, nextAttemptAt: dueAt }));
  return (await seedBook(db, { jobs })).jobs;
}
