import { Dec, formatAmount } from './money';
import { valueJob } from './valuation';
import { NO_QUOTES, rate, VALUATION_DATE, valuationInput } from './valuation-input.fixture';
import type { FxQuotes, ValuationInput, WaitingOn } from './valuation.types';

const direct = (value: string, rateDate = VALUATION_DATE): FxQuotes => ({
  direct: rate(value, rateDate),
  inverse: null,
});
const inverseOnly = (value: string, rateDate = VALUATION_DATE): FxQuotes => ({
  direct: null,
  inverse: rate(value, rateDate),
});
const eurPrice = { price: '120', priceDate: VALUATION_DATE, currency: 'EUR' };

describe('valueJob: bad reference data is a permanent failure', () => {
  it.each<[string, Partial<ValuationInput>, string, string | null]>([
    ['unknown portfolio', { baseCurrency: null }, 'unknown portfolio P1', null],
    ['unknown instrument', { instrumentCurrency: null }, 'unknown instrument SEC1', null],
    [
      'malformed portfolio currency',
      { baseCurrency: 'usd' },
      "malformed currency code 'usd' on portfolio P1",
      null,
    ],
    [
      'malformed instrument currency',
      { instrumentCurrency: 'US' },
      "malformed currency code 'US' on instrument SEC1",
      null,
    ],
    [
      'malformed price currency',
      { price: { price: '120', priceDate: '2024-01-04', currency: 'eur' } },
      "malformed currency code 'eur' on price of SEC1 on 2024-01-04",
      '120',
    ],
    [
      'zero price',
      { price: { price: '0.0000000000', priceDate: VALUATION_DATE, currency: 'USD' } },
      'non-positive price 0 for SEC1 on 2024-01-05',
      '0',
    ],
    [
      'negative price',
      { price: { price: '-0.00000001', priceDate: '2024-01-02', currency: 'USD' } },
      'non-positive price -0.00000001 for SEC1 on 2024-01-02',
      '-0.00000001',
    ],
    [
      'non-positive direct base FX rate',
      { instrumentCurrency: 'EUR', price: eurPrice, baseFx: direct('0', '2024-01-04') },
      'non-positive FX rate 0 EUR/USD on 2024-01-04',
      '120',
    ],
    [
      'non-positive direct rate even when a good inverse exists (the direct one is used)',
      { instrumentCurrency: 'EUR', price: eurPrice, baseFx: { direct: rate('-1.2'), inverse: rate('0.8') } },
      'non-positive FX rate -1.2 EUR/USD on 2024-01-05',
      '120',
    ],
    [
      'non-positive inverse base FX rate, named as stored',
      { instrumentCurrency: 'EUR', price: eurPrice, baseFx: inverseOnly('0') },
      'non-positive FX rate 0 USD/EUR on 2024-01-05',
      '120',
    ],
    [
      'non-positive price-conversion FX rate',
      { price: eurPrice, priceFx: direct('0') },
      'non-positive FX rate 0 EUR/USD on 2024-01-05',
      '120',
    ],
    [
      'bad base FX rate wins over a missing price FX rate, so the job does not wait in vain',
      { instrumentCurrency: 'GBP', price: eurPrice, priceFx: NO_QUOTES, baseFx: direct('0') },
      'non-positive FX rate 0 GBP/USD on 2024-01-05',
      '120',
    ],
    [
      'a market value beyond NUMERIC(28,10)',
      {
        position: { quantity: '100000000000', costBasis: '0', costBasisLocal: '0' },
        price: { ...eurPrice, currency: 'USD', price: '10000000000' },
      },
      'market_value_local 1e+21 of SEC1 on 2024-01-05 exceeds NUMERIC(28,10)',
      '10000000000',
    ],
  ])('%s', (_name, overrides, reason, marketPrice) => {
    const outcome = valueJob(valuationInput(overrides));

    expect(outcome).toMatchObject({ kind: 'invalid', reason });
    if (outcome.kind !== 'invalid') return;
    expect(outcome.snapshot).toMatchObject({
      valuationStatus: 'FAILED',
      failureReason: reason,
      marketValue: null,
      marketValueLocal: null,
      unrealizedGainLoss: null,
      unrealizedGainLossLocal: null,
    });
    expect(outcome.snapshot.marketPrice?.toFixed() ?? null).toBe(marketPrice);
    const { quantity, costBasis, costBasisLocal } = outcome.snapshot;
    expect([quantity, costBasis, costBasisLocal].map(formatAmount)).toEqual(
      [
        overrides.position?.quantity ?? '100',
        overrides.position?.costBasis ?? '10000',
        overrides.position?.costBasisLocal ?? '10000',
      ].map((value) => formatAmount(new Dec(value))),
    );
  });

  it('checks the portfolio and instrument currencies even for a zero quantity', () => {
    const input = valuationInput({
      position: { quantity: '0', costBasis: '0', costBasisLocal: '0' },
      baseCurrency: 'usd',
    });
    expect(valueJob(input).kind).toBe('invalid');
  });
});

describe('valueJob: missing data waits', () => {
  it.each<[string, Partial<ValuationInput>, string, WaitingOn, string | null]>([
    [
      'no price on or before d',
      { price: null },
      'no market price for SEC1 on or before 2024-01-05',
      { kind: 'PRICE' },
      null,
    ],
    [
      'no price-conversion rate, direct or inverse',
      { price: eurPrice },
      'no FX rate EUR/USD on or before 2024-01-05',
      { kind: 'FX', from: 'EUR', to: 'USD' },
      '120',
    ],
    [
      'no base rate, direct or inverse',
      { instrumentCurrency: 'EUR', price: eurPrice },
      'no FX rate EUR/USD on or before 2024-01-05',
      { kind: 'FX', from: 'EUR', to: 'USD' },
      '120',
    ],
    [
      'the price-conversion rate is reported before the base rate',
      { instrumentCurrency: 'GBP', baseCurrency: 'CHF', price: eurPrice },
      'no FX rate EUR/GBP on or before 2024-01-05',
      { kind: 'FX', from: 'EUR', to: 'GBP' },
      '120',
    ],
    [
      'a base rate missing once the price has been converted',
      { instrumentCurrency: 'GBP', baseCurrency: 'CHF', price: eurPrice, priceFx: inverseOnly('1.17') },
      'no FX rate GBP/CHF on or before 2024-01-05',
      { kind: 'FX', from: 'GBP', to: 'CHF' },
      '120',
    ],
  ])('%s', (_name, overrides, reason, waitingOn, marketPrice) => {
    const outcome = valueJob(valuationInput(overrides));

    expect(outcome).toMatchObject({ kind: 'missing_data', reason, waitingOn });
    if (outcome.kind !== 'missing_data') return;
    expect(outcome.snapshot).toMatchObject({
      valuationStatus: 'FAILED',
      failureReason: reason,
      marketValue: null,
    });
    expect(outcome.snapshot.marketPrice?.toFixed() ?? null).toBe(marketPrice);
    expect(formatAmount(outcome.snapshot.quantity)).toBe('100.0000000000');
  });

  it('values with an inverse rate only, for the price conversion too', () => {
    const input = valuationInput({
      position: { quantity: '10', costBasis: '0', costBasisLocal: '0' },
      instrumentCurrency: 'GBP',
      baseCurrency: 'GBP',
      price: { price: '50', priceDate: VALUATION_DATE, currency: 'USD' },
      priceFx: inverseOnly('1.25'),
    });
    const outcome = valueJob(input);
    expect(outcome.kind).toBe('valued');
    if (outcome.kind !== 'valued') return;
    expect(formatAmount(outcome.snapshot.marketValueLocal!)).toBe('400.0000000000');
  });
});
