import { z } from 'zod';
import { JOB_STATUSES } from '@app/valuation';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
const MAX_INT = 2_147_483_647;
const MAX_BIGINT = 9_223_372_036_854_775_807n;

const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD')
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
  }, 'must be a real calendar date');

const identifier = z.string().max(200, 'is too long');

const statusList = z
  .string()
  .transform((s) => s.split(','))
  .pipe(z.array(z.enum(JOB_STATUSES, { error: `must be one of ${JOB_STATUSES.join(', ')}` })));

/**
 * `GET /jobs` query. Empty parameters count as absent (a form that submits `status=` means "any"),
 * unknown ones are refused so a misspelt filter never silently returns everything.
 */
export const listJobsQuerySchema = z.preprocess(
  (query) =>
    query !== null && typeof query === 'object'
      ? Object.fromEntries(Object.entries(query).filter(([, v]) => v !== ''))
      : query,
  z
    .strictObject({
      status: statusList.optional(),
      min_attempts: wholeNumber(0, MAX_INT).optional(),
      portfolio_id: identifier.optional(),
      security_id: identifier.optional(),
      from: isoDate.optional(),
      to: isoDate.optional(),
      limit: wholeNumber(1, MAX_LIMIT).optional(),
      offset: wholeNumber(0, MAX_INT).optional(),
    })
    .refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, {
      message: 'must not be after to',
      path: ['from'],
    }),
);
export type ListJobsQuery = z.output<typeof listJobsQuerySchema>;

/** A job id in the path: a positive bigint. */
export const jobIdSchema = z
  .string()
  .regex(/^[1-9]\d{0,18}$/, 'must be a positive whole number')
  .refine((s) => !/^\d+$/.test(s) || BigInt(s) <= MAX_BIGINT, 'is too large');
