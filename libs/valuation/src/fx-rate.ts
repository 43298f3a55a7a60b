import { Dec, parseAmount } from './money';
import { fxPairKey } from './reference-data';
import type { FxQuotes, RateQuote, WaitingOn } from './valuation.types';

/**
 * A usable conversion. An inverse quote is kept as the stored rate and divided by, rather than
 * turned into 1/rate first: one rounding instead of two, so 1/3-like rates stay exact to 60 digits.
 */
export interface FxRate {
  kind: 'rate';
  rate: Dec;
  inverted: boolean;
}
export interface FxMissing {
  kind: 'missing';
  reason: string;
  waitingOn: WaitingOn;
}
export interface FxInvalid {
  kind: 'invalid';
  reason: string;
}
export type FxResolution = FxRate | FxMissing | FxInvalid;

const SAME_CURRENCY: FxRate = { kind: 'rate', rate: new Dec(1), inverted: false };

/** Contract §3.7: the direct A→B rate on or before d, else the inverse B→A as 1/rate. */
export function resolveFx(from: string, to: string, quotes: FxQuotes, valuationDate: string): FxResolution {
  if (from === to) return SAME_CURRENCY;
  if (quotes.direct) return usable(quotes.direct, from, to, false);
  if (quotes.inverse) return usable(quotes.inverse, to, from, true);
  return {
    kind: 'missing',
    reason: `no FX rate ${fxPairKey(from, to)} on or before ${valuationDate}`,
    waitingOn: { kind: 'FX', from, to },
  };
}

export function applyFx(amount: Dec, fx: FxRate): Dec {
  return fx.inverted ? amount.dividedBy(fx.rate) : amount.times(fx.rate);
}

// `from`/`to` name the stored pair, so the reason points the operator at the row to correct.
function usable(quote: RateQuote, from: string, to: string, inverted: boolean): FxRate | FxInvalid {
  const rate = parseAmount(quote.rate);
  if (rate.lessThanOrEqualTo(0)) {
    return {
      kind: 'invalid',
      reason: `non-positive FX rate ${rate.toFixed()} ${fxPairKey(from, to)} on ${quote.rateDate}`,
    };
  }
  return { kind: 'rate', rate, inverted };
}
