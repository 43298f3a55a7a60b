import { z } from 'zod';
import { isCurrencyCode } from '@app/valuation';

/** Fields that several topics share. */

/** A currency code as the domain defines it (three upper-case letters). */
export const currency = z.string().refine((s) => isCurrencyCode(s), 'must be three upper-case letters');

/** A whole number; producers that serialise it as a numeric string ("3") are accepted too. */
export const epoch = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^\d{1,10}$/, 'must be a whole number')
      .transform(Number),
  ])
  .pipe(z.number().int('must be a whole number').min(0, 'must not be negative').max(2_147_483_647));
