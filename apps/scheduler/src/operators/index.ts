import type { Provider } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { ApiExceptionFilter } from './api-exception.filter';
import { OperatorAuditInterceptor } from './operator-audit.interceptor';
import { OperatorAuditService } from './operator-audit.service';
import { OperatorAuthGuard } from './operator-auth.guard';
import { OperatorTokenStore } from './operator-token.store';

export { Audited, Roles } from './roles.decorator';
export { OperatorTokenStore } from './operator-token.store';

/**
 * The operators' API's tokens, roles, audit and error body (contract §9), for every controller of
 * the scheduler but `/health/*` and `/metrics`: a global guard, interceptor and exception filter.
 */
export const OPERATORS_API_PROVIDERS: Provider[] = [
  OperatorTokenStore,
  OperatorAuditService,
  { provide: APP_GUARD, useClass: OperatorAuthGuard },
  { provide: APP_INTERCEPTOR, useClass: OperatorAuditInterceptor },
  { provide: APP_FILTER, useClass: ApiExceptionFilter },
];
