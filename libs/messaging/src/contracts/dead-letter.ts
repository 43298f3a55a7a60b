import { z } from 'zod';
import { encodeMessage, parseMessage } from './wire';
import type { OutgoingMessage } from '../event-publisher';

/**
 * `valuation.dlq` (contract §6), calculator → operators, keyed by the original key: a message that
 * could not be applied, where it was (topic, partition, offset), what it held (key and value as UTF-8
 * text, the value possibly cut, see the calculator's DeadLetterPublisher) and why.
 */
export const deadLetterSchema = z.object({
  topic: z.string().min(1),
  partition: z.number().int().min(0),
  offset: z.string().regex(/^\d+$/, 'must be a whole number'),
  key: z.string().nullable(),
  value: z.string().nullable(),
  error: z.string(),
  failed_at: z.iso.datetime(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;

export const parseDeadLetter = (value: Buffer | null): DeadLetter => parseMessage(deadLetterSchema, value);

export const buildDeadLetter = (letter: DeadLetter): OutgoingMessage =>
  encodeMessage(deadLetterSchema, letter.key, letter);
