import { PATH_METADATA } from '@nestjs/common/constants';
import type { Request } from 'express';
import type { OperatorPrincipal } from '@app/config';

/** A request the guard has authenticated: who made it. */
export interface OperatorRequest extends Request {
  operator?: OperatorPrincipal;
}

/** Controllers open to anyone who reaches the port: probes (`/health/*`) and Prometheus (`/metrics`). */
const OPEN_CONTROLLER_PATHS = new Set(['health', 'metrics']);

/**
 * True for the controllers of `/health/*` and `/metrics`; every other controller of the scheduler,
 * present and future, is part of the operators' API and needs a token.
 */
export function isOpenController(controller: object): boolean {
  const path: unknown = Reflect.getMetadata(PATH_METADATA, controller);
  const paths = Array.isArray(path) ? path : [path];
  return paths.every((p) => typeof p === 'string' && OPEN_CONTROLLER_PATHS.has(p.replace(/^\/+|\/+$/g, '')));
}
