import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import { OperatorAuditService } from './operator-audit.service';
import { isOpenController, type OperatorRequest } from './operator-request';
import { OperatorTokenStore } from './operator-token.store';
import { isReadOnly, Roles, satisfies } from './roles.decorator';

/** `Authorization: Bearer <token>`; anything else is no token. */
function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/**
 * Who may do what on the operators' API (contract §9), said once: a global guard, so every route
 * but `/health/*` and `/metrics` needs a bearer token, including routes added later. The role a
 * route needs comes from `@Roles()` (handler, then class), else from its method: `viewer` to read,
 * `operator` for anything else. No or unknown token: 401; a role too low: 403, and for an action
 * (not a read) the refusal is audited first. The token itself is never logged or echoed.
 */
@Injectable()
export class OperatorAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: OperatorTokenStore,
    private readonly audit: OperatorAuditService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http' || isOpenController(context.getClass())) return true;
    const req = context.switchToHttp().getRequest<OperatorRequest>();
    const principal = this.tokens.authenticate(bearerToken(req.headers.authorization));
    if (!principal) {
      context.switchToHttp().getResponse<Response>().setHeader('WWW-Authenticate', 'Bearer');
      throw new UnauthorizedException('a valid operator token is required (Authorization: Bearer <token>)');
    }
    req.operator = principal;
    const required =
      this.reflector.getAllAndOverride(Roles, [context.getHandler(), context.getClass()]) ??
      (isReadOnly(req.method) ? 'viewer' : 'operator');
    if (satisfies(principal.role, required)) return true;

    const detail = `role ${principal.role} may not do this: it needs ${required}`;
    if (!isReadOnly(req.method)) await this.audit.refused(principal, this.audit.subject(context), detail);
    throw new ForbiddenException(detail);
  }
}
