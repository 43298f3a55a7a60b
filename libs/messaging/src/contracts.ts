import { z } from 'zod';
import { identifier, isoDate, positiveAmount, storableText } from './storable';

const currency = z.string().regex(/^[A-Z]{3}$/, 'must be three upper-case letters');
/** A whole number; producers that serialise it as a numeric string ("3") are accepted too. */
const epoch = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^\d{1,10}$/, 'must be a whole number')
      .transform(Number),
  ])
  .pipe(z.number().int('must be a whole number').min(0, 'must not be negative').max(2_147_483_647));
/** `valuation_required`: the key of a job, and the claim when the scheduler dispatched it. */
export const valuationRequiredSchema = z.object({
  portfolio_id: identifier,
  security_id: identifier,
  valuation_date: isoDate,
  epoch,
  correlation_id: storableText(200).nullish(),
  job_id: z
    .union([
      z.string().regex(/^[1-9]\d{0,17}$/, 'must be a positive whole number'),
      z.number().int().positive(),
    ])
    .transform(String)
    .optional(),
  claim_token: z.uuid('must be a UUID').optional(),
});
export type ValuationRequiredMessage = z.infer<typeof valuationRequiredSchema>;

export const marketPricePersistedSchema = z.object({
  security_id: identifier,
  price_date: isoDate,
  price: positiveAmount,
  currency,
});
export type MarketPricePersistedMessage = z.infer<typeof marketPricePersistedSchema>;

export const fxRatePersistedSchema = z.object({
  from_currency: currency,
  to_currency: currency,
  rate_date: isoDate,
  rate: positiveAmount,
});
export type FxRatePersistedMessage = z.infer<typeof fxRatePersistedSchema>;

export interface DeadLetter {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  error: string;
  failed_at: string;
}

export class InvalidMessageError extends Error {}

/** Parses and validates a message value; the error says which field is wrong and why. */
export function parseMessage<T extends z.ZodType>(schema: T, value: Buffer | null): z.infer<T> {
  if (value === null) throw new InvalidMessageError('message has no value');
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch {
    throw new InvalidMessageError('value is not JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.length ? issue.path.join('.') : 'value';
    throw new InvalidMessageError(`${field}: ${issue.message}`);
  }
  return parsed.data;
}
