import type { WaitingOn } from './valuation.types';

/**
 * How a PENDING job's wait is stored in `portfolio_valuation_jobs.waiting_on`, and so how the arrival
 * of a price or rate finds the jobs it wakes: one value per security's price, one per currency pair.
 * The pair is unordered (sorted), because a rate either way round can value the job. The one
 * definition: the writer of outcomes, the arrivals and the fan-out must agree on every byte.
 */
export const priceWaitKey = (securityId: string): string => `PRICE:${securityId}`;

export const fxWaitKey = (from: string, to: string): string => `FX:${[from, to].sort().join('/')}`;

/** The stored key of what a job of `securityId` waits on; null when it waits on nothing. */
export function waitingOnKey(securityId: string, waitingOn: WaitingOn): string;
export function waitingOnKey(securityId: string, waitingOn: WaitingOn | null): string | null;
export function waitingOnKey(securityId: string, waitingOn: WaitingOn | null): string | null {
  if (waitingOn === null) return null;
  return waitingOn.kind === 'PRICE' ? priceWaitKey(securityId) : fxWaitKey(waitingOn.from, waitingOn.to);
}
