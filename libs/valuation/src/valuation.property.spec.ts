import fc from 'fast-check';
import { Dec } from './money';
import { valueJob } from './valuation';
import { VALUATION_DATE, valuationInput } from './valuation-input.fixture';
import type { FxQuotes, Snapshot } from './valuation.types';

// NUMERIC(28,10)-shaped values, small enough that no product leaves the storable range.
const scaled = (min: bigint, max: bigint) =>
  fc.bigInt({ min, max }).map((units) => new Dec(units.toString()).dividedBy('1e10').toFixed());
const quantity = scaled(-(10n ** 16n), 10n ** 16n).filter((q) => !new Dec(q).isZero());
const cost = scaled(-(10n ** 20n), 10n ** 20n);
const positive = scaled(1n, 10n ** 16n);
const fxRate = scaled(10n ** 8n, 10n ** 12n); // 0.01 … 100, inverted or not

type Route = 'same' | 'direct' | 'inverse';
const route = fc.constantFrom<Route>('same', 'direct', 'inverse');

function quotes(kind: Route, rate: string): FxQuotes {
  const quote = { rate, rateDate: VALUATION_DATE };
  return { direct: kind === 'direct' ? quote : null, inverse: kind === 'inverse' ? quote : null };
}

// What the contract means by "fx": 1 for the same currency, the direct rate, or exactly 1/rate.
function convert(amount: Dec, kind: Route, rate: string): Dec {
  if (kind === 'same') return amount;
  return kind === 'direct' ? amount.times(rate) : amount.dividedBy(rate);
}

const scenario = fc.record({
  quantity,
  costBasis: cost,
  costBasisLocal: cost,
  price: positive,
  priceRoute: route,
  priceRate: fxRate,
  baseRoute: route,
  baseRate: fxRate,
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

function valued(s: Scenario): Snapshot {
  const outcome = valueJob(
    valuationInput({
      position: { quantity: s.quantity, costBasis: s.costBasis, costBasisLocal: s.costBasisLocal },
      baseCurrency: s.baseRoute === 'same' ? 'EUR' : 'USD',
      instrumentCurrency: 'EUR',
      price: { price: s.price, priceDate: VALUATION_DATE, currency: s.priceRoute === 'same' ? 'EUR' : 'GBP' },
      priceFx: quotes(s.priceRoute, s.priceRate),
      baseFx: quotes(s.baseRoute, s.baseRate),
    }),
  );
  if (outcome.kind !== 'valued') throw new Error(`expected a valuation, got ${outcome.kind}`);
  return outcome.snapshot;
}

describe('valueJob: properties of contract §3.8', () => {
  it('market_value_local = quantity × price in the instrument currency', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const priceInInstrument = convert(new Dec(s.price), s.priceRoute, s.priceRate);
        return valued(s).marketValueLocal!.equals(new Dec(s.quantity).times(priceInInstrument));
      }),
    );
  });

  it('market_value = market_value_local × fx', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const snapshot = valued(s);
        return snapshot.marketValue!.equals(convert(snapshot.marketValueLocal!, s.baseRoute, s.baseRate));
      }),
    );
  });

  it('unrealized = market value − cost, in both currencies', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const snapshot = valued(s);
        return (
          snapshot.unrealizedGainLoss!.equals(snapshot.marketValue!.minus(s.costBasis)) &&
          snapshot.unrealizedGainLossLocal!.equals(snapshot.marketValueLocal!.minus(s.costBasisLocal))
        );
      }),
    );
  });

  it('keeps quantity, costs and the quoted price as given', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const snapshot = valued(s);
        return (
          snapshot.quantity.equals(s.quantity) &&
          snapshot.costBasis.equals(s.costBasis) &&
          snapshot.costBasisLocal.equals(s.costBasisLocal) &&
          snapshot.marketPrice!.equals(s.price)
        );
      }),
    );
  });
});
