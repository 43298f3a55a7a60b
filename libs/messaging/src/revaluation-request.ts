import { z } from 'zod';
import { identifier, isoDate, storableText } from './storable';

/** The longest date range one revaluation may cover, both ends included (contract §9). */
export const MAX_REVALUATION_DAYS = 366;
/** The longest reason an operator may give. */
export const MAX_REVALUATION_REASON = 500;

const DAY_MS = 86_400_000;

/** A required string field: "is required" when absent, then `then`'s own rules. */
const required = <T extends z.ZodType<unknown, string>>(then: T) =>
  z.string({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a string') }).pipe(then);

/**
 * The body of `POST /revaluations` and the arguments of `npm run revalue` (the same schema for both):
 * at least one of portfolio_id / security_id, `from` ≤ `to` at most 366 days apart (both included), and
 * a reason. Every value is one the database can store (no NUL or control characters, real dates from
 * 0001-01-01), so a bad request is a 400 naming the field, never a database error. Unknown fields are
 * refused, so a misspelt `portfolio` never widens a revaluation to a whole security.
 */
export const revaluationRequestSchema = z
  .strictObject({
    portfolio_id: identifier.optional(),
    security_id: identifier.optional(),
    from: required(isoDate),
    to: required(isoDate),
    reason: required(
      storableText(MAX_REVALUATION_REASON).refine((s) => s.trim() !== '', 'must not be empty'),
    ),
  })
  .refine((r) => r.portfolio_id !== undefined || r.security_id !== undefined, {
    message: 'portfolio_id or security_id is required (or both)',
  })
  .refine((r) => r.from <= r.to, { message: 'must not be after to', path: ['from'] })
  .refine((r) => (Date.parse(r.to) - Date.parse(r.from)) / DAY_MS + 1 <= MAX_REVALUATION_DAYS, {
    message: `the range covers more than ${MAX_REVALUATION_DAYS} days`,
    path: ['to'],
  });

export type RevaluationRequestBody = z.output<typeof revaluationRequestSchema>;

/** The `operator_audit` action of starting a revaluation, by HTTP or by `npm run revalue`. */
export const REVALUATION_AUDIT_ACTION = 'revaluations.create';

/** The fields of a revaluation request an `operator_audit` row keeps as its target. */
const AUDITED_FIELDS = ['portfolio_id', 'security_id', 'from', 'to'] as const;

/**
 * The audit target of a revaluation request, from the raw body (the audit is written before the body
 * is validated, so this takes anything): the scope fields present. The reason is kept on the
 * revaluation itself.
 */
export function revaluationAuditTarget(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object') return {};
  const fields = body as Record<string, unknown>;
  return Object.fromEntries(AUDITED_FIELDS.filter((k) => fields[k] !== undefined).map((k) => [k, fields[k]]));
}
