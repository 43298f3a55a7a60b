import { randomBytes, randomUUID } from 'node:crypto';
import type { FaultScenario } from './fault-harness';

// The poison of fault scenario 8: one message of each kind of bad input, and the ~1 MB ones.

/** The broker's default message.max.bytes is 1048588: try just under it, then smaller. */
export const HUGE_SIZES = [1_048_000, 1_040_000, 1_000_000, 900_000];

export interface Poison {
  topic: 'valuationRequired' | 'marketPricePersisted' | 'fxRatePersisted';
  what: string;
  value: string | Buffer | null;
  /** What the dead letter's reason must say. */
  reason: RegExp;
}

export const job = {
  portfolio_id: 'PF00001',
  security_id: 'SEC0008',
  valuation_date: '2024-06-03',
  epoch: 0,
};
export const json = (v: unknown) => JSON.stringify(v);

export const POISON: Poison[] = [
  { topic: 'valuationRequired', what: 'garbage bytes', value: randomBytes(64), reason: /not JSON/ },
  { topic: 'valuationRequired', what: 'plain text', value: 'value me, please', reason: /not JSON/ },
  { topic: 'valuationRequired', what: 'a JSON number', value: '42', reason: /value/ },
  { topic: 'valuationRequired', what: 'a JSON array', value: '[]', reason: /value/ },
  { topic: 'valuationRequired', what: 'an empty value (tombstone)', value: null, reason: /no value/ },
  {
    topic: 'valuationRequired',
    what: 'epoch as a word',
    value: json({ ...job, epoch: 'zero' }),
    reason: /epoch/,
  },
  { topic: 'valuationRequired', what: 'negative epoch', value: json({ ...job, epoch: -1 }), reason: /epoch/ },
  {
    topic: 'valuationRequired',
    what: 'date as a number',
    value: json({ ...job, valuation_date: 20240603 }),
    reason: /valuation_date/,
  },
  {
    topic: 'valuationRequired',
    what: 'impossible date',
    value: json({ ...job, valuation_date: '2024-02-30' }),
    reason: /valuation_date/,
  },
  {
    topic: 'valuationRequired',
    what: 'portfolio as a number',
    value: json({ ...job, portfolio_id: 42 }),
    reason: /portfolio_id/,
  },
  {
    topic: 'valuationRequired',
    what: 'missing security',
    value: json({ ...job, security_id: undefined }),
    reason: /security_id/,
  },
  { topic: 'valuationRequired', what: 'empty object', value: '{}', reason: /portfolio_id/ },
  {
    topic: 'valuationRequired',
    what: 'malformed claim',
    value: json({ ...job, claim_token: 'not-a-uuid' }),
    reason: /claim_token/,
  },
  {
    topic: 'valuationRequired',
    what: 'unknown job key',
    value: json({ ...job, portfolio_id: 'NO-SUCH-PF' }),
    reason: /unknown job/,
  },
  {
    topic: 'valuationRequired',
    what: 'unknown job with a claim',
    value: json({ ...job, valuation_date: '2023-01-02', claim_token: randomUUID(), job_id: '999999' }),
    reason: /unknown job/,
  },
  { topic: 'marketPricePersisted', what: 'price: garbage bytes', value: randomBytes(32), reason: /not JSON/ },
  {
    topic: 'marketPricePersisted',
    what: 'price: negative',
    value: json({ security_id: 'SEC0008', price_date: '2024-06-03', price: '-5', currency: 'USD' }),
    reason: /price/,
  },
  {
    topic: 'marketPricePersisted',
    what: 'price: lower-case currency',
    value: json({ security_id: 'SEC0008', price_date: '2024-06-03', price: '5', currency: 'usd' }),
    reason: /currency/,
  },
  {
    topic: 'fxRatePersisted',
    what: 'fx: missing date',
    value: json({ from_currency: 'EUR', to_currency: 'USD', rate: 1.1 }),
    reason: /rate_date/,
  },
  {
    topic: 'fxRatePersisted',
    what: 'fx: rate as a word',
    value: json({ from_currency: 'EUR', to_currency: 'USD', rate_date: '2024-06-03', rate: 'high' }),
    reason: /rate/,
  },
];

/**
 * The largest ~1 MB message of a kind the broker takes, on partition 0 of valuation_required: a
 * request whose portfolio id is far past the 200-character limit, or plain garbage bytes (which the
 * dead letter's UTF-8 text makes up to three times larger).
 */
export async function produceLargestAccepted(s: FaultScenario, kind: 'json' | 'garbage') {
  const refused: number[] = [];
  for (const bytes of HUGE_SIZES) {
    const value =
      kind === 'json'
        ? Buffer.from(json({ ...job, portfolio_id: 'P'.repeat(bytes - json(job).length - 4) }))
        : randomBytes(bytes);
    try {
      const offsets = await s.kafka.sendReturningOffsets(s.topics.valuationRequired, [
        { key: `poison-huge-${kind}`, value, partition: 0 },
      ]);
      const poison: Poison = {
        topic: 'valuationRequired',
        what: `a ${value.length}-byte ${kind} payload`,
        value,
        reason: kind === 'json' ? /portfolio_id/ : /not JSON/,
      };
      return { bytes: value.length, offset: offsets.get(0), partition: 0, poison, refused };
    } catch {
      refused.push(value.length);
    }
  }
  throw new Error(`the broker refused every payload size: ${refused.join(', ')}`);
}
