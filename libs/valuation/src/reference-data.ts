const CURRENCY_CODE = /^[A-Z]{3}$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/*
 * Each check narrows unknown input to string, but a value already typed string is checked with a
 * plain boolean: `s is string` would narrow it to never on failure, and the caller still needs it
 * to name the bad value in the failure reason.
 */

/** Three upper-case ASCII letters; whether ISO 4217 lists the code is upstream's concern. */
export function isCurrencyCode(s: string): boolean;
export function isCurrencyCode(s: unknown): s is string;
export function isCurrencyCode(s: unknown): s is string {
  return typeof s === 'string' && CURRENCY_CODE.test(s);
}

/**
 * Why `s` is not a date of the system, or null when it is one: a real calendar date written
 * YYYY-MM-DD, from 0001-01-01 (PostgreSQL has no year 0) to 9999-12-31. The one definition of the
 * date format: the message contracts and the operators' API report this reason for a bad date.
 * Checked arithmetically rather than through Date so the answer never depends on the process time zone.
 */
export function isoDateFault(s: string): string | null {
  const match = ISO_DATE.exec(s);
  if (!match) return 'must be a date YYYY-MM-DD';
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month))
    return 'must be a real calendar date';
  if (year < 1) return 'must be on or after 0001-01-01';
  return null;
}

/** A date of the system (see `isoDateFault`). */
export function isIsoDate(s: string): boolean;
export function isIsoDate(s: unknown): s is string;
export function isIsoDate(s: unknown): s is string {
  return typeof s === 'string' && isoDateFault(s) === null;
}

/** The key of an FX pair as used on the `fx_rate_persisted` topic. */
export function fxPairKey(from: string, to: string): string {
  return `${from}/${to}`;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}
