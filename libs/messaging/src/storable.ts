import { z } from 'zod';
import { fitsStoredAmount, isoDateFault, parseAmount, roundForStorage } from '@app/valuation';

/**
 * Validators for values that end up in PostgreSQL, shared by the message contracts and the operators'
 * API: a value that passes them is one the columns can hold, so a plausible-looking but unstorable
 * value (year 0, a NUL byte, 1e400) is refused at the edge with a reason instead of failing a
 * transaction.
 */

/** NUL (which TEXT cannot hold), the other C0 and C1 controls, DEL, and unpaired UTF-16 surrogates. */
const UNSTORABLE_CHARACTER = /[\p{Cc}\p{Cs}]/u;

/** A calendar date YYYY-MM-DD from 0001-01-01 to 9999-12-31, as the domain defines it (isoDateFault). */
export const isoDate = z.string().superRefine((s, ctx) => {
  const fault = isoDateFault(s);
  if (fault !== null) ctx.addIssue({ code: 'custom', message: fault });
});

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
 * that does not round to zero there: the domain's decimal format (parseAmount) and storage rounding
 * (roundForStorage). Normalised to its trimmed text.
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
    else if (!fitsStoredAmount(amount))
      ctx.addIssue({ code: 'custom', message: 'is too large (NUMERIC(28,10))' });
    else if (roundForStorage(amount).isZero())
      ctx.addIssue({ code: 'custom', message: 'rounds to zero at 10 decimal places' });
  });
