import type { z } from 'zod';
import type { OutgoingMessage } from '../event-publisher';

/** A message that fails its topic's contract; the message says which field is wrong and why. */
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

/**
 * The message value of a contract: the schema's fields, in the schema's order, and nothing else
 * (an absent optional field is left out), so the field names are written only in the schema.
 * It does not validate: what a builder is given comes from our own rows and claims, and a value the
 * consumer refuses is dead-lettered there with its reason, as any other producer's would be, rather
 * than stopping the producer.
 */
export function encodeMessage<S extends z.ZodObject>(
  schema: S,
  key: string | null,
  message: z.output<S>,
): OutgoingMessage {
  const fields = message as Record<string, unknown>;
  const value = Object.fromEntries(Object.keys(schema.shape).map((name) => [name, fields[name]]));
  return { key, value: JSON.stringify(value) };
}
