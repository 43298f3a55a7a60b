import {
  CallHandler,
  ExecutionContext,
  HttpStatus,
  Injectable,
  NestInterceptor,
  UnauthorizedException,
} from '@nestjs/common';
import { HTTP_CODE_METADATA } from '@nestjs/common/constants';
import { catchError, from, mergeMap, type Observable, switchMap } from 'rxjs';
import { OperatorAuditService, outcomeOf } from './operator-audit.service';
import { isOpenController, type OperatorRequest } from './operator-request';
import { isReadOnly } from './roles.decorator';

/**
 * Audits every action (non-GET request) of the operators' API the guard let through, in one place:
 * recorded before the pipes and the handler run (so a bad request is audited too, and nothing runs
 * unaudited), settled with the outcome after. Reads are not audited.
 */
@Injectable()
export class OperatorAuditInterceptor implements NestInterceptor {
  constructor(private readonly audit: OperatorAuditService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http' || isOpenController(context.getClass())) return next.handle();
    const req = context.switchToHttp().getRequest<OperatorRequest>();
    if (isReadOnly(req.method)) return next.handle();
    const principal = req.operator;
    // The guard sets it for every route that reaches here; without it, nothing runs.
    if (!principal) throw new UnauthorizedException('a valid operator token is required');
    const subject = this.audit.subject(context);
    const status =
      (Reflect.getMetadata(HTTP_CODE_METADATA, context.getHandler()) as number | undefined) ??
      (req.method === 'POST' ? HttpStatus.CREATED : HttpStatus.OK);

    return from(this.audit.begin(principal, subject)).pipe(
      switchMap((id) =>
        next.handle().pipe(
          mergeMap(async (value: unknown) => {
            await this.audit.settle(id, principal, subject, 'ok', `answered ${status}`);
            return value;
          }),
          catchError(async (error: unknown) => {
            const { outcome, detail } = outcomeOf(error);
            await this.audit.settle(id, principal, subject, outcome, detail);
            throw error;
          }),
        ),
      ),
    );
  }
}
