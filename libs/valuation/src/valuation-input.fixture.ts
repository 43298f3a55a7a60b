import type { FxQuotes, RateQuote, ValuationInput } from './valuation.types';

// Specs only (not exported from the barrel): a job that values cleanly, 100 × 120 USD all in USD,
// so each spec changes just the field it is about.
export const VALUATION_DATE = '2024-01-05';

export const NO_QUOTES: FxQuotes = { direct: null, inverse: null };

export function rate(value: string, rateDate = VALUATION_DATE): RateQuote {
  return { rate: value, rateDate };
}

export function valuationInput(overrides: Partial<ValuationInput> = {}): ValuationInput {
  return {
    job: { portfolioId: 'P1', securityId: 'SEC1', valuationDate: VALUATION_DATE, epoch: 2 },
    currentEpoch: 2,
    position: {
      quantity: '100.0000000000',
      costBasis: '10000.0000000000',
      costBasisLocal: '10000.0000000000',
    },
    baseCurrency: 'USD',
    instrumentCurrency: 'USD',
    price: { price: '120.0000000000', priceDate: VALUATION_DATE, currency: 'USD' },
    priceFx: NO_QUOTES,
    baseFx: NO_QUOTES,
    ...overrides,
  };
}
