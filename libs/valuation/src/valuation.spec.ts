import { Dec, formatAmount } from './money';
import { valueJob } from './valuation';
import { rate, VALUATION_DATE, valuationInput } from './valuation-input.fixture';
import type { FxQuotes, Snapshot, ValuationInput, ValuationOutcome } from './valuation.types';

const direct = (value: string): FxQuotes => ({ direct: rate(value), inverse: null });
const inverseOnly = (value: string): FxQuotes => ({ direct: null, inverse: rate(value) });

function snapshotOf(outcome: ValuationOutcome): Snapshot {
  if (!('snapshot' in outcome)) throw new Error(`outcome ${outcome.kind} has no snapshot`);
  return outcome.snapshot;
}

function stored(amount: Dec | null): string | null {
  return amount === null ? null : formatAmount(amount);
}

const amount = (value: string) => formatAmount(new Dec(value));

describe('valueJob: worked examples of contract §3', () => {
  interface Example {
    name: string;
    input: Partial<ValuationInput>;
    marketValueLocal: string;
    marketValue: string;
    unrealizedLocal: string;
    unrealized: string;
  }
  const position = (quantity: string, costBasis: string, costBasisLocal: string) => ({
    quantity,
    costBasis,
    costBasisLocal,
  });
  const price = (value: string, currency: string) => ({ price: value, priceDate: VALUATION_DATE, currency });

  it.each<Example>([
    {
      name: 'same currency',
      input: { position: position('100', '10000', '10000'), price: price('120', 'USD') },
      marketValueLocal: '12000',
      marketValue: '12000',
      unrealizedLocal: '2000',
      unrealized: '2000',
    },
    {
      name: 'FX conversion',
      input: {
        position: position('100', '11000', '10000'),
        price: price('120', 'EUR'),
        instrumentCurrency: 'EUR',
        baseFx: direct('1.2'),
      },
      marketValueLocal: '12000',
      marketValue: '14400',
      unrealizedLocal: '2000',
      unrealized: '3400',
    },
    {
      name: 'loss with FX',
      input: {
        position: position('100', '11000', '10000'),
        price: price('95', 'EUR'),
        instrumentCurrency: 'EUR',
        baseFx: direct('1.05'),
      },
      marketValueLocal: '9500',
      marketValue: '9975',
      unrealizedLocal: '-500',
      unrealized: '-1025',
    },
    {
      name: 'price in another currency',
      input: {
        position: position('200', '22000', '20000'),
        price: price('110', 'USD'),
        instrumentCurrency: 'EUR',
        baseCurrency: 'CHF',
        priceFx: direct('0.9'),
        baseFx: direct('0.95'),
      },
      marketValueLocal: '19800',
      marketValue: '18810',
      unrealizedLocal: '-200',
      unrealized: '-3190',
    },
    {
      name: 'inverse rate only',
      input: {
        position: position('10', '600', '500'),
        price: price('50', 'GBP'),
        instrumentCurrency: 'GBP',
        baseFx: inverseOnly('0.8'),
      },
      marketValueLocal: '500',
      marketValue: '625',
      unrealizedLocal: '0',
      unrealized: '25',
    },
  ])('$name', (example) => {
    const outcome = valueJob(valuationInput(example.input));

    expect(outcome.kind).toBe('valued');
    const snapshot = snapshotOf(outcome);
    expect(snapshot.valuationStatus).toBe('VALUED_CURRENT');
    expect(snapshot.failureReason).toBeNull();
    expect(snapshot.marketPrice?.equals(example.input.price!.price)).toBe(true);
    expect(snapshot.marketValueLocal?.equals(example.marketValueLocal)).toBe(true);
    expect(snapshot.marketValue?.equals(example.marketValue)).toBe(true);
    expect(snapshot.unrealizedGainLossLocal?.equals(example.unrealizedLocal)).toBe(true);
    expect(snapshot.unrealizedGainLoss?.equals(example.unrealized)).toBe(true);
    expect(stored(snapshot.marketValue)).toBe(amount(example.marketValue));
  });
});

describe('valueJob: outcomes before valuation', () => {
  it.each<[string, number | null, ValuationOutcome['kind']]>([
    ['a newer epoch supersedes the job', 3, 'superseded'],
    ['the same epoch values it', 2, 'valued'],
    ['an older recorded epoch does not supersede it', 1, 'valued'],
    ['no position_state row does not supersede it', null, 'valued'],
  ])('%s', (_name, currentEpoch, kind) => {
    expect(valueJob(valuationInput({ currentEpoch })).kind).toBe(kind);
  });

  it('is superseded before anything else is looked at', () => {
    const input = valuationInput({ currentEpoch: 3, position: null, baseCurrency: null, price: null });
    expect(valueJob(input)).toEqual({ kind: 'superseded' });
  });

  it('skips a job without a position, without a snapshot', () => {
    expect(valueJob(valuationInput({ position: null, baseCurrency: null }))).toEqual({ kind: 'no_position' });
  });
});

describe('valueJob: status and special positions', () => {
  it('is VALUED_STALE when the latest price is older than the valuation date', () => {
    const input = valuationInput({ price: { price: '118', priceDate: '2024-01-03', currency: 'USD' } });
    const snapshot = snapshotOf(valueJob(input));
    expect(snapshot.valuationStatus).toBe('VALUED_STALE');
    expect(stored(snapshot.marketValue)).toBe(amount('11800'));
  });

  it('values a zero quantity at zero without a price or FX rate', () => {
    const input = valuationInput({
      position: { quantity: '0.0000000000', costBasis: '110', costBasisLocal: '100' },
      instrumentCurrency: 'EUR',
      price: null,
    });
    const outcome = valueJob(input);
    expect(outcome.kind).toBe('valued');
    const snapshot = snapshotOf(outcome);
    expect(snapshot).toMatchObject({
      valuationStatus: 'VALUED_CURRENT',
      marketPrice: null,
      failureReason: null,
    });
    expect(
      [
        snapshot.marketValueLocal,
        snapshot.marketValue,
        snapshot.unrealizedGainLossLocal,
        snapshot.unrealizedGainLoss,
      ].map(stored),
    ).toEqual([amount('0'), amount('0'), amount('-100'), amount('-110')]);
  });

  it('values a short position (negative quantity) by the same formula', () => {
    const input = valuationInput({
      position: { quantity: '-10', costBasis: '-1000', costBasisLocal: '-1000' },
    });
    const snapshot = snapshotOf(valueJob(input));
    expect(stored(snapshot.marketValue)).toBe(amount('-1200'));
    expect(stored(snapshot.unrealizedGainLoss)).toBe(amount('-200'));
  });

  it('prefers the direct rate over the inverse one', () => {
    const input = valuationInput({
      instrumentCurrency: 'EUR',
      price: { price: '120', priceDate: VALUATION_DATE, currency: 'EUR' },
      baseFx: { direct: rate('1.2'), inverse: rate('0.5') },
    });
    expect(stored(snapshotOf(valueJob(input)).marketValue)).toBe(amount('14400'));
  });

  it('divides by an inverse rate, so a 1/3-like rate rounds once', () => {
    const input = valuationInput({
      position: { quantity: '0.0000000045', costBasis: '0', costBasisLocal: '0' },
      instrumentCurrency: 'EUR',
      price: { price: '1', priceDate: VALUATION_DATE, currency: 'EUR' },
      baseFx: inverseOnly('30'),
    });
    // exact value 0.00000000015 is a tie that half-even rounds to ...02; 1/30 rounded first gives ...01
    expect(stored(snapshotOf(valueJob(input)).marketValue)).toBe('0.0000000002');
  });

  it('never rounds intermediate values', () => {
    const input = valuationInput({
      position: { quantity: '3', costBasis: '0', costBasisLocal: '0' },
      instrumentCurrency: 'EUR',
      baseCurrency: 'EUR',
      price: { price: '1', priceDate: VALUATION_DATE, currency: 'USD' },
      priceFx: inverseOnly('3'),
    });
    // a price rounded to 10 places first (0.3333333333 EUR) would give 0.9999999999
    expect(stored(snapshotOf(valueJob(input)).marketValueLocal)).toBe('1.0000000000');
  });
});
