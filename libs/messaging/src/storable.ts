import { z } from 'zod';
import { parseAmount } from '@app/valuation';

/**
 * Validators for values that end up in PostgreSQL, shared by the message contracts and the operators'
 * API: a value that passes them is one the columns can hold, so a plausible-looking but unstorable
 * value (year 0, a NUL byte, 1e400) is refused at the edge with a reason instead of failing a
 * transaction.
 */

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
/** NUL (which TEXT cannot hold), the other C0 and C1 controls, DEL, and unpaired UTF-16 surrogates. */
const UNSTORABLE_CHARACTER = /[\p{Cc}\p{Cs}]/u;
/** NUMERIC(28,10): 18 digits before the point. */
const MAX_AMOUNT = '1e18';
/** The smallest positive amount that does not round to zero at 10 decimal places. */
const MIN_POSITIVE_AMOUNT = '0.00000000005';

/** A calendar date YYYY-MM-DD from 0001-01-01 to 9999-12-31 (PostgreSQL has no year 0). */
export const isoDate = z
  .string()
  .regex(ISO_DATE, 'must be a date YYYY-MM-DD')
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
  }, 'must be a real calendar date')
  .refine((s) => s >= '0001-01-01', 'must be on or after 0001-01-01');

/** Text of at most `max` characters, free of control characters. */
export const storableText = (max: number) =>
  z
    .string()
    .max(max, `is too long (at most ${max} characters)`)
    .refine((s) => !UNSTORABLE_CHARACTER.test(s), 'must not contain control characters or NUL');

/** A portfolio or security id: 1 to 200 storable characters. */
export const identifier = storableText(200).pipe(z.string().min(1, 'must not be empty'));

/**
 * A positive amount (price, rate) as a decimal string or number, that NUMERIC(28,10) can hold and
 * that does not round to zero there. Normalised to its trimmed text.
 */
export const positiveAmount = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .superRefine((text, ctx) => {
    let amount;
    try {
      amount = parseAmount(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a decimal number' });
      return;
    }
    if (amount.lte(0)) ctx.addIssue({ code: 'custom', message: 'must be positive' });
    else if (amount.gte(MAX_AMOUNT))
      ctx.addIssue({ code: 'custom', message: 'is too large (NUMERIC(28,10))' });
    else if (amount.lt(MIN_POSITIVE_AMOUNT))
      ctx.addIssue({ code: 'custom', message: 'rounds to zero at 10 decimal places' });
  });
