import { z } from 'zod';
import { identifier, isoDate } from '@app/messaging';
import { JOB_STATUSES } from '@app/valuation';

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
/**
 * The deepest page: a page is read newest first through an index and the rows before it are read
 * too, so the offset is bounded to keep one request's work bounded (narrow the filters to go deeper).
 */
export const MAX_OFFSET = 10_000;
const MAX_INT = 2_147_483_647;
const MAX_BIGINT = 9_223_372_036_854_775_807n;

const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const statusList = z
  .string()
  .transform((s) => s.split(','))
  .pipe(z.array(z.enum(JOB_STATUSES, { error: `must be one of ${JOB_STATUSES.join(', ')}` })));

/**
 * `GET /jobs` query. Empty parameters count as absent (a form that submits `status=` means "any"),
 * unknown ones are refused so a misspelt filter never silently returns everything. Ids and dates are
 * the shared storable validators (`@app/messaging`): a value the columns cannot hold (a NUL byte, year
 * 0) is a 400 naming the parameter, never a database error.
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
      offset: wholeNumber(0, MAX_OFFSET).optional(),
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
