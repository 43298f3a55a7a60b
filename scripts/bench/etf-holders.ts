import type { Client } from 'pg';
import { addDays, daysFrom, numbered, seedBook } from '../lib/seed';
import { FIRST_CLOSE, horizon, START } from './dataset';
import { dayOfYear } from './market-data';

export const ETF = 'ETF1';

/** The ETF's close of `date`: whole dollars, drifting up with the day of the year. */
const close = (date: string) => 400 + dayOfYear(date);

/**
 * `holders` portfolios E000001… (USD and EUR) each holding the USD ETF, whose price of `date` is
 * missing: their jobs of that day are COMPLETE with a VALUED_STALE snapshot at the day before's
 * price, as if valued before the price arrived. The ETF has a price every other day, so the
 * back-dated price re-opens exactly these jobs (the window ends at the next day's price).
 */
export async function addEtfHolders(db: Client, holders: number, days: number, date: string): Promise<void> {
  const end = horizon({ days });
  const staleAt = close(addDays(date, -1));
  const held = Array.from({ length: holders }, (_, i) => {
    const g = i + 1;
    const q = 10 + (g % 90);
    return { portfolioId: numbered('E', g, 6), baseCurrency: g % 2 === 0 ? 'EUR' : 'USD', q };
  });
  await seedBook(db, {
    instruments: [{ securityId: ETF, currency: 'USD', name: 'Broad market ETF', productType: 'ETF' }],
    prices: daysFrom(FIRST_CLOSE, end)
      .filter((d) => d !== date)
      .map((d) => ({ securityId: ETF, date: d, price: close(d), currency: 'USD' })),
    portfolios: held.map(({ portfolioId, baseCurrency }) => ({ portfolioId, baseCurrency })),
    positions: held.map(({ portfolioId, q }) => ({
      portfolioId,
      securityId: ETF,
      date: START,
      quantity: q,
      costBasis: q * 380,
      costBasisLocal: q * 400,
    })),
    positionStates: held.map(({ portfolioId }) => ({
      portfolioId,
      securityId: ETF,
      epoch: 0,
      watermarkDate: end,
      backfilledEpoch: 0,
      backfilledThrough: end,
    })),
    jobs: held.map(({ portfolioId }) => ({
      portfolioId,
      securityId: ETF,
      date,
      status: 'COMPLETE',
      attemptCount: 1,
    })),
    snapshots: held.map(({ portfolioId, q }) => ({
      portfolioId,
      securityId: ETF,
      date,
      quantity: q,
      costBasis: q * 380,
      costBasisLocal: q * 400,
      marketPrice: staleAt,
      marketValue: q * staleAt,
      marketValueLocal: q * staleAt,
      unrealizedGainLoss: q * staleAt - q * 380,
      unrealizedGainLossLocal: q * staleAt - q * 400,
      valuationStatus: 'VALUED_STALE',
    })),
  });
  await db.query('ANALYZE');
}
