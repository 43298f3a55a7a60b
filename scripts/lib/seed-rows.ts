import type { JobStatus, ValuationStatus } from '@app/valuation';

/**
 * The rows the seeding module (seed.ts) takes, one type per table, and where each field is stored.
 * A field a row leaves out (undefined) takes the column's default; `null` writes NULL.
 */

/** A time relative to the database's clock: `now()` of the seeding statement plus this many seconds. */
export interface FromNow {
  readonly secondsFromNow: number;
}
export const fromNow = (seconds: number): FromNow => ({ secondsFromNow: seconds });
/** A TIMESTAMPTZ: absolute (ISO text), relative to the database's clock, or NULL. */
export type Moment = string | FromNow | null;
/** A NUMERIC: text keeps every digit; a number is sent as JavaScript prints it (exact for integers). */
export type Numeric = string | number;

export interface BusinessDateRow {
  date: string;
  calendarCode?: string;
}
export interface PortfolioRow {
  portfolioId: string;
  baseCurrency: string;
}
export interface InstrumentRow {
  securityId: string;
  currency: string;
  name?: string | null;
  productType?: string | null;
}
export interface PriceRow {
  securityId: string;
  date: string;
  price: Numeric;
  currency: string;
}
export interface FxRateRow {
  from: string;
  to: string;
  date: string;
  rate: Numeric;
}
/** A row of position_history. */
export interface PositionRow {
  portfolioId: string;
  securityId: string;
  date: string;
  quantity: Numeric;
  costBasis: Numeric;
  costBasisLocal: Numeric;
  epoch?: number;
}
export interface PositionStateRow {
  portfolioId: string;
  securityId: string;
  epoch?: number;
  watermarkDate?: string | null;
  status?: 'CURRENT' | 'REPROCESSING';
  backfilledEpoch?: number | null;
  backfilledThrough?: string | null;
}
export interface JobRow {
  portfolioId: string;
  securityId: string;
  date: string;
  epoch?: number;
  status?: JobStatus;
  attemptCount?: number;
  waitingOn?: string | null;
  failureReason?: string | null;
  nextAttemptAt?: Moment;
  createdAt?: Moment;
  updatedAt?: Moment;
}
/** A row of daily_position_snapshots. */
export interface SnapshotRow {
  portfolioId: string;
  securityId: string;
  date: string;
  epoch?: number;
  quantity: Numeric;
  costBasis: Numeric;
  costBasisLocal: Numeric;
  marketPrice?: Numeric | null;
  marketValue?: Numeric | null;
  marketValueLocal?: Numeric | null;
  unrealizedGainLoss?: Numeric | null;
  unrealizedGainLossLocal?: Numeric | null;
  valuationStatus?: ValuationStatus;
  failureReason?: string | null;
}

/** Rows for any of the tables, seeded together. */
export interface Book {
  businessDates?: readonly BusinessDateRow[];
  portfolios?: readonly PortfolioRow[];
  instruments?: readonly InstrumentRow[];
  prices?: readonly PriceRow[];
  fxRates?: readonly FxRateRow[];
  positions?: readonly PositionRow[];
  positionStates?: readonly PositionStateRow[];
  jobs?: readonly JobRow[];
  snapshots?: readonly SnapshotRow[];
}
/** Rows inserted per table (fewer than given where `skipExisting` skipped some). */
export type SeedCounts = { [K in keyof Book]-?: number };

export interface SeedOptions {
  /** Tables whose rows are skipped where their key exists already (ON CONFLICT DO NOTHING). */
  skipExisting?: readonly (keyof Book)[];
}

export type SqlType = 'text' | 'date' | 'int' | 'numeric' | 'timestamptz';
/** Where each field of a row goes: its column and the type its array is sent as. */
export type Columns<R> = { readonly [K in keyof Required<R>]: readonly [column: string, type: SqlType] };
type RowOf<K extends keyof Book> = NonNullable<Book[K]>[number];

export const TABLES: { readonly [K in keyof Book]-?: { table: string; columns: Columns<RowOf<K>> } } = {
  businessDates: {
    table: 'business_dates',
    columns: { date: ['date', 'date'], calendarCode: ['calendar_code', 'text'] },
  },
  portfolios: {
    table: 'portfolios',
    columns: { portfolioId: ['portfolio_id', 'text'], baseCurrency: ['base_currency', 'text'] },
  },
  instruments: {
    table: 'instruments',
    columns: {
      securityId: ['security_id', 'text'],
      currency: ['currency', 'text'],
      name: ['name', 'text'],
      productType: ['product_type', 'text'],
    },
  },
  prices: {
    table: 'market_prices',
    columns: {
      securityId: ['security_id', 'text'],
      date: ['price_date', 'date'],
      price: ['price', 'numeric'],
      currency: ['currency', 'text'],
    },
  },
  fxRates: {
    table: 'fx_rates',
    columns: {
      from: ['from_currency', 'text'],
      to: ['to_currency', 'text'],
      date: ['rate_date', 'date'],
      rate: ['rate', 'numeric'],
    },
  },
  positions: {
    table: 'position_history',
    columns: {
      portfolioId: ['portfolio_id', 'text'],
      securityId: ['security_id', 'text'],
      date: ['position_date', 'date'],
      epoch: ['epoch', 'int'],
      quantity: ['quantity', 'numeric'],
      costBasis: ['cost_basis', 'numeric'],
      costBasisLocal: ['cost_basis_local', 'numeric'],
    },
  },
  positionStates: {
    table: 'position_state',
    columns: {
      portfolioId: ['portfolio_id', 'text'],
      securityId: ['security_id', 'text'],
      epoch: ['epoch', 'int'],
      watermarkDate: ['watermark_date', 'date'],
      status: ['status', 'text'],
      backfilledEpoch: ['backfilled_epoch', 'int'],
      backfilledThrough: ['backfilled_through', 'date'],
    },
  },
  jobs: {
    table: 'portfolio_valuation_jobs',
    columns: {
      portfolioId: ['portfolio_id', 'text'],
      securityId: ['security_id', 'text'],
      date: ['valuation_date', 'date'],
      epoch: ['epoch', 'int'],
      status: ['status', 'text'],
      attemptCount: ['attempt_count', 'int'],
      waitingOn: ['waiting_on', 'text'],
      failureReason: ['failure_reason', 'text'],
      nextAttemptAt: ['next_attempt_at', 'timestamptz'],
      createdAt: ['created_at', 'timestamptz'],
      updatedAt: ['updated_at', 'timestamptz'],
    },
  },
  snapshots: {
    table: 'daily_position_snapshots',
    columns: {
      portfolioId: ['portfolio_id', 'text'],
      securityId: ['security_id', 'text'],
      date: ['date', 'date'],
      epoch: ['epoch', 'int'],
      quantity: ['quantity', 'numeric'],
      costBasis: ['cost_basis', 'numeric'],
      costBasisLocal: ['cost_basis_local', 'numeric'],
      marketPrice: ['market_price', 'numeric'],
      marketValue: ['market_value', 'numeric'],
      marketValueLocal: ['market_value_local', 'numeric'],
      unrealizedGainLoss: ['unrealized_gain_loss', 'numeric'],
      unrealizedGainLossLocal: ['unrealized_gain_loss_local', 'numeric'],
      valuationStatus: ['valuation_status', 'text'],
      failureReason: ['failure_reason', 'text'],
    },
  },
};
