import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { OperatorRole } from '@app/config';

/**
 * The least role a route needs, on a handler or a controller class. Without it a route of the
 * operators' API needs `viewer` to read (GET, HEAD) and `operator` for anything else (contract §9).
 */
export const Roles = Reflector.createDecorator<OperatorRole>();

/** What an audited request is, for the `operator_audit` row. */
export interface AuditSpec {
  /** e.g. `jobs.retry` */
  action: string;
  /** e.g. `{job_id: req.params.id}`; the values are cleaned and bounded before they are stored. */
  target?: (req: Request) => Record<string, unknown>;
}

/**
 * Names a route's audit record. A POST without it is still audited, as `<METHOD> <route>` with its
 * path parameters as the target.
 */
export const Audited = Reflector.createDecorator<AuditSpec>();

const RANK: Record<OperatorRole, number> = { viewer: 1, operator: 2 };

export function satisfies(role: OperatorRole, required: OperatorRole): boolean {
  return RANK[role] >= RANK[required];
}

/** Reading changes nothing; everything else is an action that needs an operator, and is audited. */
export function isReadOnly(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}
