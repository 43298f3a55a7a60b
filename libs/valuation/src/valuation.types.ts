import type { Dec } from './money';

/** Identity of a valuation job, contract §2.2: one per (portfolio, security, date, epoch). */
export interface JobKey {
  portfolioId: string;
  securityId: string;
  valuationDate: string;
  epoch: number;
}

/** A stored rate as read: `rate` is the NUMERIC column's text, `rateDate` is YYYY-MM-DD. */
export interface RateQuote {
  rate: string;
  rateDate: string;
}

/** The latest rates on or before the valuation date for A→B (direct) and B→A (inverse). */
export interface FxQuotes {
  direct: RateQuote | null;
  inverse: RateQuote | null;
}

/** Everything `valueJob` needs, already read by the caller; the valuation itself does no I/O. */
export interface ValuationInput {
  job: JobKey;
  /** `position_state.epoch`, null when the key has no row. */
  currentEpoch: number | null;
  /** The position of the job's epoch on or before its date, null when there is none. */
  position: { quantity: string; costBasis: string; costBasisLocal: string } | null;
  /** The portfolio's base currency, null when the portfolio is unknown. */
  baseCurrency: string | null;
  /** The instrument's currency, null when the instrument is unknown. */
  instrumentCurrency: string | null;
  /** The latest price on or before the valuation date, null when there is none. */
  price: { price: string; priceDate: string; currency: string } | null;
  /** Price currency → instrument currency; ignored when they are equal. */
  priceFx: FxQuotes;
  /** Instrument currency → base currency; ignored when they are equal. */
  baseFx: FxQuotes;
}

/** Contract §2.2: every `valuation_status` a snapshot can have. */
export const VALUATION_STATUSES = ['UNVALUED', 'VALUED_CURRENT', 'VALUED_STALE', 'FAILED'] as const;
export type ValuationStatus = (typeof VALUATION_STATUSES)[number];

/** A daily position snapshot before rounding: amounts are rounded only when stored. */
export interface Snapshot {
  quantity: Dec;
  costBasis: Dec;
  costBasisLocal: Dec;
  marketPrice: Dec | null;
  marketValue: Dec | null;
  marketValueLocal: Dec | null;
  unrealizedGainLoss: Dec | null;
  unrealizedGainLossLocal: Dec | null;
  valuationStatus: ValuationStatus;
  failureReason: string | null;
}

/** What a job missing data waits for, so the arrival of that price or rate can wake it. */
export type WaitingOn = { kind: 'PRICE' } | { kind: 'FX'; from: string; to: string };

export type ValuationOutcome =
  | { kind: 'superseded' }
  | { kind: 'no_position' }
  | { kind: 'invalid'; reason: string; snapshot: Snapshot }
  | { kind: 'missing_data'; reason: string; waitingOn: WaitingOn; snapshot: Snapshot }
  | { kind: 'valued'; snapshot: Snapshot };
