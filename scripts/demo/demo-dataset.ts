import type { Client } from 'pg';
import { Dec } from '@app/valuation';
import { type PriceRow, seedBook } from '../lib/seed';

/**
 * A small, realistic book: three portfolios (USD, EUR, USD) holding equities in USD, EUR, GBP and CHF
 * and a USD ETF, over three weeks of business dates. Deterministic, so every run tells the same story.
 * Held back at load time, to arrive late during the demo:
 *  - every CHF rate (USD/CHF, EUR/CHF): NESN cannot be converted to its portfolios' currencies;
 *  - every ASML price: it cannot be valued at all;
 *  - the ETF's price of 2024-03-08: those days use the older price (VALUED_STALE) until it arrives.
 */
export const START = '2024-03-01';
export const HORIZON = '2024-03-21';
export const ETF = 'SPY';
export const LATE_PRICE_SECURITY = 'ASML';
export const BACKDATED_ETF_DATE = '2024-03-08';

const INSTRUMENTS: [string, string, string, string | null, number][] = [
  // security, currency, name, product type, first price
  ['AAPL', 'USD', 'Apple Inc.', 'EQUITY', 172.5],
  ['MSFT', 'USD', 'Microsoft Corp.', 'EQUITY', 410.25],
  ['SPY', 'USD', 'SPDR S&P 500 ETF', 'ETF', 508.1],
  ['SAP', 'EUR', 'SAP SE', 'EQUITY', 171.4],
  ['ASML', 'EUR', 'ASML Holding', 'EQUITY', 871.6],
  ['HSBA', 'GBP', 'HSBC Holdings', 'EQUITY', 6.12],
  ['NESN', 'CHF', 'Nestlé', 'EQUITY', 93.8],
];

export const PORTFOLIOS: [string, string][] = [
  ['US-GROWTH', 'USD'],
  ['EU-INCOME', 'EUR'],
  ['GLOBAL-BALANCED', 'USD'],
];

const HOLDINGS: [string, string, string][] = [
  // portfolio, security, quantity
  ['US-GROWTH', 'AAPL', '150'],
  ['US-GROWTH', 'MSFT', '80'],
  ['US-GROWTH', 'SPY', '120'],
  ['US-GROWTH', 'ASML', '10'],
  ['EU-INCOME', 'SAP', '200'],
  ['EU-INCOME', 'NESN', '300'],
  ['EU-INCOME', 'HSBA', '2500'],
  ['EU-INCOME', 'SPY', '40'],
  ['GLOBAL-BALANCED', 'AAPL', '60'],
  ['GLOBAL-BALANCED', 'SAP', '90'],
  ['GLOBAL-BALANCED', 'NESN', '150'],
  ['GLOBAL-BALANCED', 'HSBA', '4000'],
  ['GLOBAL-BALANCED', 'SPY', '75'],
];

/** FX quotes as a market data vendor would send them (CHF ones are the late ones). */
const FX: [string, string, number][] = [
  ['EUR', 'USD', 1.084],
  ['GBP', 'USD', 1.268],
  ['EUR', 'GBP', 0.855],
  ['USD', 'CHF', 0.884],
  ['EUR', 'CHF', 0.958],
];
export const LATE_FX_PAIRS: [string, string][] = [
  ['USD', 'CHF'],
  ['EUR', 'CHF'],
];

export function businessDates(): string[] {
  const dates: string[] = [];
  for (
    let d = new Date(`${START}T00:00:00Z`);
    d <= new Date(`${HORIZON}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1)
  ) {
    if (d.getUTCDay() !== 0 && d.getUTCDay() !== 6) dates.push(d.toISOString().slice(0, 10));
  }
  return dates;
}

/** A gentle deterministic walk: a synthetic factor (6 places) applied in decimal, 4 places kept. */
function walk(start: number, step: number, seed: number): string {
  const factor = (1 + Math.sin(step * 1.7 + seed) * 0.012 + step * 0.0015).toFixed(6);
  return new Dec(start).times(factor).toDecimalPlaces(4).toFixed(4);
}

/** Instrument currency → base currency on the first day, for the positions' cost in base currency. */
function firstDayRate(from: string, to: string): Dec {
  if (from === to) return new Dec(1);
  const direct = FX.find(([f, t]) => f === from && t === to);
  if (direct) return new Dec(direct[2]);
  const inverse = FX.find(([f, t]) => f === to && t === from);
  if (inverse) return new Dec(1).dividedBy(inverse[2]);
  throw new Error(`no first-day rate ${from}/${to}`);
}

export function priceRows(): { security: string; date: string; price: string; currency: string }[] {
  return businessDates().flatMap((date, step) =>
    INSTRUMENTS.map(([security, currency, , , first], seed) => ({
      security,
      date,
      price: walk(first, step, seed),
      currency,
    })),
  );
}

export function fxRows(): { from: string; to: string; date: string; rate: string }[] {
  return businessDates().flatMap((date, step) =>
    FX.map(([from, to, first], seed) => ({ from, to, date, rate: walk(first, step, seed + 10) })),
  );
}

const isLateFx = (from: string, to: string) => LATE_FX_PAIRS.some(([f, t]) => f === from && t === to);
const isLatePrice = (security: string, date: string) =>
  security === LATE_PRICE_SECURITY || (security === ETF && date === BACKDATED_ETF_DATE);

/** The demo's rows as the seeding module takes them (the story keeps its own shape for the payloads). */
export const asPriceRows = (prices: ReturnType<typeof priceRows>): PriceRow[] =>
  prices.map(({ security, ...p }) => ({ securityId: security, ...p }));

/** The whole book but what arrives late, in one statement. */
export async function loadDataset(db: Client): Promise<void> {
  await seedBook(db, {
    businessDates: businessDates().map((date) => ({ date })),
    portfolios: PORTFOLIOS.map(([portfolioId, baseCurrency]) => ({ portfolioId, baseCurrency })),
    instruments: INSTRUMENTS.map(([securityId, currency, name, productType]) => ({
      securityId,
      currency,
      name,
      productType,
    })),
    prices: asPriceRows(priceRows().filter((p) => !isLatePrice(p.security, p.date))),
    fxRates: fxRows().filter((r) => !isLateFx(r.from, r.to)),
    positions: HOLDINGS.map(([portfolio, security, quantity]) => {
      // Bought a little below the first price; cost in the instrument's currency and in the portfolio's.
      const [, instrumentCcy, , , first] = INSTRUMENTS.find(([id]) => id === security)!;
      const baseCcy = PORTFOLIOS.find(([id]) => id === portfolio)![1];
      const costLocal = new Dec(quantity).times(first).times('0.95');
      const cost = costLocal.times(firstDayRate(instrumentCcy, baseCcy));
      return {
        portfolioId: portfolio,
        securityId: security,
        date: START,
        quantity,
        costBasis: cost.toFixed(10),
        costBasisLocal: costLocal.toFixed(10),
      };
    }),
    positionStates: HOLDINGS.map(([portfolioId, securityId]) => ({ portfolioId, securityId })),
  });
}

export const lateFxRows = () => fxRows().filter((r) => isLateFx(r.from, r.to));
export const latePriceRows = () => priceRows().filter((p) => p.security === LATE_PRICE_SECURITY);
export const backdatedEtfPrice = () =>
  priceRows().find((p) => p.security === ETF && p.date === BACKDATED_ETF_DATE)!;

/** One job per holding and calendar day from the first position to the horizon. */
export function expectedJobs(): number {
  const days = (Date.parse(HORIZON) - Date.parse(START)) / 86_400_000 + 1;
  return HOLDINGS.length * days;
}
