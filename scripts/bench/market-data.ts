import type { Client } from 'pg';
import { daysFrom, decimal, type FxRateRow, type InstrumentRow, type PriceRow } from '../lib/seed';

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

/** Day of the year, 1 to 366: prices and rates drift with it. */
export function dayOfYear(date: string): number {
  return (
    (Date.parse(`${date}T00:00:00Z`) - Date.parse(`${date.slice(0, 4)}-01-01T00:00:00Z`)) / 86_400_000 + 1
  );
}

/**
 * `abs(hashtext(id))` of each security, which spreads the prices and picks those quoted in USD. The
 * bench generated them in SQL with PostgreSQL's hash before its rows were built in code; asking the
 * database for the same hash keeps every price as it was, so runs stay comparable with earlier ones.
 */
async function priceSeeds(db: Client, securityIds: string[]): Promise<Map<string, number>> {
  const { rows } = await db.query<{ id: string; h: number }>(
    'SELECT id, abs(hashtext(id)) AS h FROM unnest($1::text[]) AS id',
    [securityIds],
  );
  return new Map(rows.map((r) => [r.id, r.h]));
}

/** Daily closes of `instruments` from `from` to `to`, in their currency, one in twenty quoted in USD. */
export async function closes(
  db: Client,
  instruments: readonly InstrumentRow[],
  from: string,
  to: string,
): Promise<PriceRow[]> {
  const seeds = await priceSeeds(
    db,
    instruments.map((i) => i.securityId),
  );
  const days = daysFrom(from, to);
  return instruments.flatMap((i) => {
    const h = seeds.get(i.securityId)!;
    const currency = h % 20 === 0 ? 'USD' : i.currency;
    // 5 + h % 500 + doy × 0.01, in cents.
    return days.map((date) => ({
      securityId: i.securityId,
      date,
      price: decimal((5 + (h % 500)) * 100 + dayOfYear(date), 2),
      currency,
    }));
  });
}

/**
 * FX for every pair FROM < TO of `currencies`, every day (the other direction is the inverse): the
 * USD cross rate drifting with the day of the year. Computed in doubles and cut to 15 significant
 * digits, as PostgreSQL's float8 → numeric cast does (the rates it stored before are unchanged); the
 * NUMERIC(28,10) column rounds the rest.
 */
export function rates(currencies: readonly string[], from: string, to: string): FxRateRow[] {
  const pairs = currencies.flatMap((a) => currencies.filter((b) => a < b).map((b) => [a, b] as const));
  return daysFrom(from, to).flatMap((date) =>
    pairs.map(([a, b]) => ({
      from: a,
      to: b,
      date,
      rate: ((USD_VALUE[a] / USD_VALUE[b]) * ((10_000 + dayOfYear(date)) / 10_000)).toPrecision(15),
    })),
  );
}
