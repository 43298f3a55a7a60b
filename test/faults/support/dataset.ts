import type { Pool } from 'pg';
import {
  addDays,
  decimal,
  type FxRateRow,
  numbered,
  type PositionRow,
  seedBook,
} from '../../../scripts/lib/seed';

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

/** Direct rates in ten-thousandths on the first day; each later day adds 0.001. */
const FX: [from: string, to: string, rate: number][] = [
  ['EUR', 'USD', 10_800],
  ['GBP', 'USD', 12_650],
  ['USD', 'EUR', 9_250],
  ['GBP', 'EUR', 11_700],
];
const CURRENCIES = ['USD', 'EUR', 'GBP'];

export interface SeededDataset {
  jobs: number;
  positions: number;
  prices: number;
  rates: number;
  start: string;
  horizon: string;
}

/**
 * Seeds the book in one statement. Business dates and FX rates are shared by every dataset of a run
 * (a second, prefixed dataset finds them there), so those two skip what exists; `rates` counts only
 * the rates this call added.
 */
export async function seedDataset(db: Pool, spec: DatasetSpec): Promise<SeededDataset> {
  if (spec.holdings > spec.securities) throw new Error('a portfolio cannot hold more securities than exist');
  const start = spec.start ?? DEFAULT_START;
  const prefix = spec.prefix ?? '';
  const days = Array.from({ length: spec.days }, (_, i) => addDays(start, i));
  const security = (n: number) => ({
    id: numbered(`${prefix}SEC`, n, 4),
    currency: CURRENCIES[n % 3],
  });
  const securities = Array.from({ length: spec.securities }, (_, i) => security(i + 1));
  const portfolios = Array.from({ length: spec.portfolios }, (_, i) => i + 1);
  const portfolioId = (p: number) => numbered(`${prefix}PF`, p, 5);
  // Holding k of every portfolio, k by k; jobs day by day: the order of ids the SQL this replaced got
  // from the planner at the suite's sizes (the jobs claimed first are the same).
  const positions: PositionRow[] = Array.from({ length: spec.holdings }, (_, k) => k).flatMap((k) =>
    portfolios.map((p) => {
      const s = 1 + ((p * 7 + k) % spec.securities);
      const q = 10 + ((p * 7 + s) % 90);
      return {
        portfolioId: portfolioId(p),
        securityId: security(s).id,
        date: start,
        epoch: 0,
        quantity: q,
        costBasis: decimal(q * 1015, 1),
        costBasisLocal: decimal(q * 9525, 2),
      };
    }),
  );
  const fxRates: FxRateRow[] = days.flatMap((date, i) =>
    FX.map(([from, to, rate]) => ({ from, to, date, rate: decimal(rate + i * 10, 4) })),
  );
  const counts = await seedBook(
    db,
    {
      portfolios: portfolios.map((p) => ({
        portfolioId: portfolioId(p),
        baseCurrency: p % 3 === 0 ? 'EUR' : 'USD',
      })),
      instruments: securities.map((s, i) => ({
        securityId: s.id,
        currency: s.currency,
        name: `Fault suite security ${i + 1}`,
        productType: 'EQUITY',
      })),
      businessDates: days.map((date) => ({ calendarCode: 'GLOBAL', date })),
      // 100 + n + 0.25 a day, in cents.
      prices:
        (spec.priced ?? true)
          ? securities.flatMap((s, n) =>
              days.map((date, i) => ({
                securityId: s.id,
                date,
                price: decimal((101 + n) * 100 + i * 25, 2),
                currency: s.currency,
              })),
            )
          : [],
      fxRates,
      positions,
      positionStates: positions.map(({ portfolioId, securityId }) => ({ portfolioId, securityId })),
      jobs: days.flatMap((date) =>
        positions.map(({ portfolioId, securityId }) => ({
          portfolioId,
          securityId,
          date,
          epoch: 0,
          status: 'PENDING' as const,
        })),
      ),
    },
    { skipExisting: ['businessDates', 'fxRates'] },
  );
  return {
    jobs: counts.jobs,
    positions: counts.positions,
    prices: counts.prices,
    rates: counts.fxRates,
    start,
    horizon: addDays(start, spec.days - 1),
  };
}
