import { Decimal } from 'decimal.js';

/**
 * The one decimal type for amounts, quantities, prices and rates. 60 significant digits keep a
 * product of two NUMERIC(28,10) values exact, so rounding happens only where an amount is stored.
 */
export const Dec = Decimal.clone({ precision: 60, rounding: Decimal.ROUND_HALF_EVEN });
export type Dec = Decimal;

/** Scale of the NUMERIC(28,10) columns amounts are stored in. */
export const STORED_SCALE = 10;
const STORED_INTEGER_DIGITS = 28 - STORED_SCALE;
const STORED_LIMIT = new Dec(10).pow(STORED_INTEGER_DIGITS);

export class InvalidAmountError extends Error {
  constructor(readonly value: unknown) {
    super(`invalid amount ${describe(value)}: expected a finite decimal number`);
    this.name = 'InvalidAmountError';
  }
}

// decimal.js would also accept hex, binary and octal literals and 'Infinity'; amounts on our
// wire and in our tables are plain decimals only.
const DECIMAL_LITERAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

export function parseAmount(value: string | number): Dec {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new InvalidAmountError(value);
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !DECIMAL_LITERAL.test(text)) throw new InvalidAmountError(value);
  const amount = new Dec(text);
  // An exponent beyond decimal.js's range overflows to Infinity or underflows to 0; neither is
  // the number that was written.
  const underflowed = amount.isZero() && /[1-9]/.test(text.split(/e/i)[0]);
  if (!amount.isFinite() || underflowed) throw new InvalidAmountError(value);
  return amount;
}

/** The amount as it is stored: rounded half-even to 10 decimal places. */
export function roundForStorage(d: Dec): Dec {
  return d.toDecimalPlaces(STORED_SCALE, Dec.ROUND_HALF_EVEN);
}

/** The stored form: fixed 10 decimal places, half-even; never '-0.0000000000'. */
export function formatAmount(d: Dec): string {
  if (!d.isFinite()) throw new InvalidAmountError(d.toString());
  const rounded = roundForStorage(d);
  return (rounded.isZero() ? rounded.abs() : rounded).toFixed(STORED_SCALE);
}

/**
 * Whether the amount, once rounded for storage, fits NUMERIC(28,10). A value that does not would
 * make the database reject the write on every redelivery, so callers treat it as bad data instead.
 */
export function fitsStoredAmount(d: Dec): boolean {
  return d.isFinite() && roundForStorage(d).abs().lessThan(STORED_LIMIT);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value.length > 40 ? `${value.slice(0, 40)}…` : value}'`;
  return String(value);
}
