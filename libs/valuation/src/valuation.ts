import { applyFx, resolveFx, type FxResolution } from './fx-rate';
import { Dec, fitsStoredAmount, parseAmount } from './money';
import { isCurrencyCode } from './reference-data';
import type { JobKey, Snapshot, ValuationInput, ValuationOutcome, WaitingOn } from './valuation.types';

interface Holding {
  quantity: Dec;
  costBasis: Dec;
  costBasisLocal: Dec;
}

/**
 * Values one job, contract §3. Pure: the caller reads the inputs and writes the outcome. Checks
 * that make a job permanently invalid run before those that make it wait, so a job with bad
 * reference data fails at once instead of retrying for data that would not help.
 */
export function valueJob(input: ValuationInput): ValuationOutcome {
  const { job, position, baseCurrency, instrumentCurrency } = input;
  if (input.currentEpoch !== null && input.currentEpoch > job.epoch) return { kind: 'superseded' };
  if (position === null) return { kind: 'no_position' };

  const holding: Holding = {
    quantity: parseAmount(position.quantity),
    costBasis: parseAmount(position.costBasis),
    costBasisLocal: parseAmount(position.costBasisLocal),
  };
  if (baseCurrency === null) return invalid(holding, null, `unknown portfolio ${job.portfolioId}`);
  if (instrumentCurrency === null) return invalid(holding, null, `unknown instrument ${job.securityId}`);
  if (!isCurrencyCode(baseCurrency)) {
    return invalid(
      holding,
      null,
      `malformed currency code '${baseCurrency}' on portfolio ${job.portfolioId}`,
    );
  }
  if (!isCurrencyCode(instrumentCurrency)) {
    return invalid(
      holding,
      null,
      `malformed currency code '${instrumentCurrency}' on instrument ${job.securityId}`,
    );
  }
  if (holding.quantity.isZero()) return { kind: 'valued', snapshot: closedPositionSnapshot(holding) };

  const quote = input.price;
  if (quote === null) {
    const reason = `no market price for ${job.securityId} on or before ${job.valuationDate}`;
    return missing(holding, null, reason, { kind: 'PRICE' });
  }
  const price = parseAmount(quote.price);
  if (!isCurrencyCode(quote.currency)) {
    const reason = `malformed currency code '${quote.currency}' on price of ${job.securityId} on ${quote.priceDate}`;
    return invalid(holding, price, reason);
  }
  if (price.lessThanOrEqualTo(0)) {
    return invalid(
      holding,
      price,
      `non-positive price ${price.toFixed()} for ${job.securityId} on ${quote.priceDate}`,
    );
  }

  const priceFx = resolveFx(quote.currency, instrumentCurrency, input.priceFx, job.valuationDate);
  const baseFx = resolveFx(instrumentCurrency, baseCurrency, input.baseFx, job.valuationDate);
  if (priceFx.kind !== 'rate' || baseFx.kind !== 'rate') return fxFailure(holding, price, [priceFx, baseFx]);

  const marketValueLocal = holding.quantity.times(applyFx(price, priceFx));
  const marketValue = applyFx(marketValueLocal, baseFx);
  const valued: Snapshot = {
    ...holding,
    marketPrice: price,
    marketValueLocal,
    marketValue,
    unrealizedGainLossLocal: marketValueLocal.minus(holding.costBasisLocal),
    unrealizedGainLoss: marketValue.minus(holding.costBasis),
    valuationStatus: quote.priceDate === job.valuationDate ? 'VALUED_CURRENT' : 'VALUED_STALE',
    failureReason: null,
  };
  const overflow = unstorableAmount(valued, job);
  return overflow ? invalid(holding, price, overflow) : { kind: 'valued', snapshot: valued };
}

/** Contract §3.4: a closed position needs neither price nor rate, so a missing feed never holds it up. */
function closedPositionSnapshot(holding: Holding): Snapshot {
  const zero = new Dec(0);
  return {
    ...holding,
    marketPrice: null,
    marketValueLocal: zero,
    marketValue: zero,
    unrealizedGainLossLocal: zero.minus(holding.costBasisLocal),
    unrealizedGainLoss: zero.minus(holding.costBasis),
    valuationStatus: 'VALUED_CURRENT',
    failureReason: null,
  };
}

// A bad rate is reported before a missing one: waiting for the missing rate could not value the job.
function fxFailure(holding: Holding, price: Dec, resolutions: FxResolution[]): ValuationOutcome {
  const bad = resolutions.find((fx) => fx.kind === 'invalid');
  if (bad) return invalid(holding, price, bad.reason);
  const absent = resolutions.find((fx) => fx.kind === 'missing');
  if (absent) return missing(holding, price, absent.reason, absent.waitingOn);
  throw new Error('fxFailure called although every FX rate resolved');
}

// A computed amount beyond NUMERIC(28,10) would make every write fail and the message redeliver
// forever; the absurd price or rate behind it is bad reference data, so the job fails instead.
function unstorableAmount(snapshot: Snapshot, job: JobKey): string | null {
  const computed: [string, Dec | null][] = [
    ['market_value_local', snapshot.marketValueLocal],
    ['market_value', snapshot.marketValue],
    ['unrealized_gain_loss_local', snapshot.unrealizedGainLossLocal],
    ['unrealized_gain_loss', snapshot.unrealizedGainLoss],
  ];
  for (const [column, amount] of computed) {
    if (amount !== null && !fitsStoredAmount(amount)) {
      const shown = amount.toSignificantDigits(12).toString();
      return `${column} ${shown} of ${job.securityId} on ${job.valuationDate} exceeds NUMERIC(28,10)`;
    }
  }
  return null;
}

function failedSnapshot(holding: Holding, marketPrice: Dec | null, reason: string): Snapshot {
  return {
    ...holding,
    marketPrice,
    marketValueLocal: null,
    marketValue: null,
    unrealizedGainLossLocal: null,
    unrealizedGainLoss: null,
    valuationStatus: 'FAILED',
    failureReason: reason,
  };
}

function invalid(holding: Holding, marketPrice: Dec | null, reason: string): ValuationOutcome {
  return { kind: 'invalid', reason, snapshot: failedSnapshot(holding, marketPrice, reason) };
}

function missing(
  holding: Holding,
  marketPrice: Dec | null,
  reason: string,
  waitingOn: WaitingOn,
): ValuationOutcome {
  return { kind: 'missing_data', reason, waitingOn, snapshot: failedSnapshot(holding, marketPrice, reason) };
}
