import {
  ExecutionContext,
  HttpException,
  HttpStatus,
  Injectable,
  InternalServerErrorException,
  Logger,
  ServiceUnavailableException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  AdminBusyError,
  type AuditEntry,
  type AuditOutcome,
  OperatorAuditRepository,
} from '@app/persistence';
import type { OperatorPrincipal } from '@app/config';
import { httpErrorMessage } from './api-exception.filter';
import type { OperatorRequest } from './operator-request';
import { Audited } from './roles.decorator';

/** The longest text kept of one target value or of a detail. */
const MAX_TEXT = 200;
// Control characters and NUL (jsonb cannot hold \u0000), C1 controls included.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function clean(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  const cleaned = text.replace(CONTROL, '\uFFFD');
  return cleaned.length > MAX_TEXT ? `${cleaned.slice(0, MAX_TEXT)}…` : cleaned;
}

export interface AuditSubject {
  action: string;
  target: Record<string, string>;
}

const OUTCOME_BY_STATUS = new Map<number, AuditOutcome>([
  [HttpStatus.BAD_REQUEST, 'bad_request'],
  [HttpStatus.FORBIDDEN, 'forbidden'],
  [HttpStatus.NOT_FOUND, 'not_found'],
  [HttpStatus.CONFLICT, 'conflict'],
  [HttpStatus.SERVICE_UNAVAILABLE, 'unavailable'],
]);

/** The audit outcome of an error a request ended with. */
export function outcomeOf(error: unknown): { outcome: AuditOutcome; detail: string } {
  if (!(error instanceof HttpException)) return { outcome: 'error', detail: 'internal error' };
  const detail = clean(httpErrorMessage(error));
  const outcome = OUTCOME_BY_STATUS.get(error.getStatus()) ?? 'error';
  return { outcome, detail };
}

/**
 * The audit trail of the operators' API (contract §9), written here and nowhere else: one
 * `operator_audit` row and one JSON log line (`"audit": true`) per POST, allowed or refused with 403.
 *
 * Fail closed: an action is recorded (outcome `started`) BEFORE it runs; when that insert fails (the
 * database refuses, times out, or the API's statement limit is full) the request is answered 503 and
 * the action does not run. Once the action ran, its outcome is set on that row; if that update fails
 * the row still says `started`, the log line carries the outcome, and the client gets a 500 so it
 * does not take the answer as fully recorded. Every statement is bounded by the pool's statement and
 * lock timeouts, and the insert by the statement limit's short wait, so no request hangs on the audit.
 */
@Injectable()
export class OperatorAuditService {
  private readonly logger = new Logger('OperatorAudit');

  constructor(
    private readonly audit: OperatorAuditRepository,
    private readonly reflector: Reflector,
  ) {}

  /** The action and target of a request, from `@Audited()` or from its route. */
  subject(context: ExecutionContext): AuditSubject {
    const req = context.switchToHttp().getRequest<OperatorRequest>();
    const spec = this.reflector.get(Audited, context.getHandler());
    const route = (req.route as { path?: string } | undefined)?.path ?? req.path;
    const raw = spec?.target ? spec.target(req) : { ...req.params };
    const target = Object.fromEntries(Object.entries(raw).map(([k, v]) => [clean(k), clean(v)]));
    return { action: spec?.action ?? `${req.method} ${route}`, target };
  }

  /** Records a refusal (403). Throws 503 when it cannot be recorded. */
  async refused(principal: OperatorPrincipal, subject: AuditSubject, detail: string): Promise<void> {
    const entry = this.entry(principal, subject, 'forbidden', detail);
    await this.insertOrRefuse(entry);
    this.log(entry);
  }

  /** Records an action about to run; its id. Throws 503 when it cannot be recorded. */
  async begin(principal: OperatorPrincipal, subject: AuditSubject): Promise<string> {
    return this.insertOrRefuse(this.entry(principal, subject, 'started', 'in progress'));
  }

  /** Records how the action of `begin` ended. Throws 500 when that cannot be recorded. */
  async settle(
    id: string,
    principal: OperatorPrincipal,
    subject: AuditSubject,
    outcome: AuditOutcome,
    detail: string,
  ): Promise<void> {
    const entry = this.entry(principal, subject, outcome, clean(detail));
    try {
      await this.audit.settle(id, outcome, entry.detail);
    } catch (error) {
      this.log({ ...entry, id, recorded: false });
      this.logger.error({ msg: 'audit record not completed', id, reason: reason(error) });
      throw new InternalServerErrorException(
        'the action ran but its audit record could not be completed: see the scheduler log',
      );
    }
    this.log({ ...entry, id });
  }

  private entry(
    principal: OperatorPrincipal,
    subject: AuditSubject,
    outcome: AuditOutcome,
    detail: string,
  ): AuditEntry {
    return { principal: principal.name, role: principal.role, ...subject, outcome, detail };
  }

  private async insertOrRefuse(entry: AuditEntry): Promise<string> {
    try {
      return await this.audit.insert(entry);
    } catch (error) {
      if (error instanceof AdminBusyError) {
        this.logger.warn({ msg: 'audit record not written: request refused', reason: error.message });
        throw new ServiceUnavailableException(error.message);
      }
      this.logger.error({ msg: 'audit record not written: request refused', reason: reason(error) });
      throw new ServiceUnavailableException(
        'the audit trail cannot be written: nothing was done, try again shortly',
      );
    }
  }

  private log(record: AuditEntry & { id?: string; recorded?: boolean }): void {
    this.logger.log({ audit: true, ...record });
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
