import {
  ConflictException,
  Controller,
  Get,
  HttpCode,
  HttpStatus,
  NotFoundException,
  Param,
  Post,
  Query,
  ServiceUnavailableException,
} from '@nestjs/common';
import { AdminBusyError, JobsAdminRepository, type JobDetailView, type JobView } from '@app/persistence';
import { DEFAULT_LIMIT, jobIdSchema, listJobsQuerySchema, type ListJobsQuery } from './jobs-query.schema';
import { Audited } from '../operators';
import { ZodValidationPipe } from './zod-validation.pipe';

export interface JobPage {
  items: JobView[];
  limit: number;
  offset: number;
}

/**
 * The operators' view of the job table (contract §8, §9), on the scheduler's port. Tokens, roles
 * (GET: viewer, POST: operator), the audit of every POST and the `{"error": ...}` body are the
 * operators' API's global guard, interceptor and filter (../operators), not this class's concern.
 */
@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobsAdminRepository) {}

  /** Newest first (id descending). */
  @Get()
  async list(@Query(new ZodValidationPipe(listJobsQuerySchema)) query: ListJobsQuery): Promise<JobPage> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    const offset = query.offset ?? 0;
    const items = await unavailableWhenBusy(() =>
      this.jobs.list({
        statuses: query.status,
        minAttempts: query.min_attempts,
        portfolioId: query.portfolio_id,
        securityId: query.security_id,
        from: query.from,
        to: query.to,
        limit,
        offset,
      }),
    );
    return { items, limit, offset };
  }

  /** One job with its attempts, oldest first (contract §9): why it is where it is. */
  @Get(':id')
  async get(@Param('id', new ZodValidationPipe(jobIdSchema)) id: string): Promise<JobDetailView> {
    const job = await unavailableWhenBusy(() => this.jobs.findWithAttempts(id));
    if (!job) throw new NotFoundException(`job ${id} does not exist`);
    return job;
  }

  /** Makes a PENDING or FAILED job due now; any other status is a conflict. */
  @Post(':id/retry')
  @HttpCode(HttpStatus.OK)
  @Audited({ action: 'jobs.retry', target: (req) => ({ job_id: req.params.id }) })
  async retry(@Param('id', new ZodValidationPipe(jobIdSchema)) id: string): Promise<JobView> {
    const result = await unavailableWhenBusy(() => this.jobs.retry(id));
    switch (result.kind) {
      case 'retried':
        return result.job;
      case 'not_found':
        throw new NotFoundException(`job ${id} does not exist`);
      case 'conflict':
        throw new ConflictException(
          `job ${id} is ${result.status}: only PENDING or FAILED jobs can be retried`,
        );
    }
  }
}

/** SQLSTATEs of a statement the server gave up on: lock_timeout, statement_timeout. */
const TIMED_OUT = new Set(['55P03', '57014']);

/**
 * 503 when the API is at its concurrency limit, or when the database bounded the statement (a row
 * locked elsewhere for longer than the lock timeout, a statement past the statement timeout): the
 * request may succeed when tried again, and the answer says so instead of a bare 500.
 */
export async function unavailableWhenBusy<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AdminBusyError) throw new ServiceUnavailableException(error.message);
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && TIMED_OUT.has(code)) {
      throw new ServiceUnavailableException(
        code === '55P03'
          ? 'the job is locked by other work: try again shortly'
          : 'the database did not answer in time: try again shortly',
      );
    }
    throw error;
  }
}
