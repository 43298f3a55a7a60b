import {
  Body,
  Controller,
  Get,
  HttpCode,
  HttpStatus,
  NotFoundException,
  Param,
  Post,
  Req,
  UnauthorizedException,
} from '@nestjs/common';
import {
  REVALUATION_AUDIT_ACTION,
  revaluationAuditTarget,
  type RevaluationRequestBody,
  revaluationRequestSchema,
} from '@app/messaging';
import { RevaluationsRepository, type RevaluationView } from '@app/persistence';
import { jobIdSchema } from '../jobs-api/jobs-query.schema';
import { unavailableWhenBusy } from '../jobs-api/jobs.controller';
import { ZodValidationPipe } from '../jobs-api/zod-validation.pipe';
import { Audited } from '../operators';
import type { OperatorRequest } from '../operators/operator-request';

export interface RevaluationAccepted {
  id: string;
  status: 'RUNNING';
}

/**
 * Revaluations (contract §9): re-open the settled current-epoch jobs of a portfolio and/or security
 * over a date range, worked through by the cycle's fan-out step. `npm run revalue` (apps/tools) starts
 * one through the same `RevaluationsRepository.request`. Tokens, roles and the audit are the operators'
 * API's global guard and interceptor.
 */
@Controller('revaluations')
export class RevaluationsController {
  constructor(private readonly revaluations: RevaluationsRepository) {}

  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @Audited({ action: REVALUATION_AUDIT_ACTION, target: (req) => revaluationAuditTarget(req.body) })
  async create(
    @Body(new ZodValidationPipe(revaluationRequestSchema)) body: RevaluationRequestBody,
    @Req() req: OperatorRequest,
  ): Promise<RevaluationAccepted> {
    // The guard has put the principal there for every request that reaches a handler.
    if (!req.operator) throw new UnauthorizedException('a valid operator token is required');
    const requestedBy = req.operator.name;
    const id = await unavailableWhenBusy(() => this.revaluations.request(body, requestedBy));
    return { id, status: 'RUNNING' };
  }

  @Get(':id')
  async get(@Param('id', new ZodValidationPipe(jobIdSchema)) id: string): Promise<RevaluationView> {
    const revaluation = await unavailableWhenBusy(() => this.revaluations.find(id));
    if (!revaluation) throw new NotFoundException(`revaluation ${id} does not exist`);
    return revaluation;
  }
}
