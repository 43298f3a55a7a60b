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
} from '@nestjs/common';
import { JobsAdminRepository, type JobView } from '@app/persistence';
import { DEFAULT_LIMIT, jobIdSchema, listJobsQuerySchema, type ListJobsQuery } from './jobs-query.schema';
import { ZodValidationPipe } from './zod-validation.pipe';

export interface JobPage {
  items: JobView[];
  limit: number;
  offset: number;
}

/** The operators' view of the job table (contract §8), on the scheduler's port. */
@Controller('jobs')
export class JobsController {
  constructor(private readonly jobs: JobsAdminRepository) {}

  /** Newest first (id descending). */
  @Get()
  async list(@Query(new ZodValidationPipe(listJobsQuerySchema)) query: ListJobsQuery): Promise<JobPage> {
    const limit = query.limit ?? DEFAULT_LIMIT;
    const offset = query.offset ?? 0;
    const items = await this.jobs.list({
      statuses: query.status,
      minAttempts: query.min_attempts,
      portfolioId: query.portfolio_id,
      securityId: query.security_id,
      from: query.from,
      to: query.to,
      limit,
      offset,
    });
    return { items, limit, offset };
  }

  /** Makes a PENDING or FAILED job due now; any other status is a conflict. */
  @Post(':id/retry')
  @HttpCode(HttpStatus.OK)
  async retry(@Param('id', new ZodValidationPipe(jobIdSchema)) id: string): Promise<JobView> {
    const result = await this.jobs.retry(id);
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
