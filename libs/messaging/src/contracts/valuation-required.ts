import { z } from 'zod';
import { identifier, isoDate, storableText } from '../storable';
import { epoch } from './fields';
import { encodeMessage, parseMessage } from './wire';
import type { OutgoingMessage } from '../event-publisher';

/**
 * `valuation_required` (contract §6), scheduler → calculator, keyed by portfolio_id: the key of a job,
 * and the claim when the scheduler dispatched it.
 */
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

export const parseValuationRequired = (value: Buffer | null): ValuationRequiredMessage =>
  parseMessage(valuationRequiredSchema, value);

export const buildValuationRequired = (message: ValuationRequiredMessage): OutgoingMessage =>
  encodeMessage(valuationRequiredSchema, message.portfolio_id, message);
