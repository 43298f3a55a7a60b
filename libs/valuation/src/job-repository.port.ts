import type { ProcessedOutcome } from './job-policy';
import type { JobKey } from './valuation.types';

/** One `valuation_required` delivery: the job's key, and the claim when the scheduler dispatched it. */
export interface ValuationRequest {
  key: JobKey;
  correlationId: string | null;
  /** The dispatch claim. Without one, the request may only take a PENDING job that is due. */
  claimToken: string | null;
}

/** What became of one request; `unknown_job` means no job row has that key (bad input). */
export interface AttemptResult {
  request: ValuationRequest;
  outcome: ProcessedOutcome | 'unknown_job';
  jobId: string | null;
  reason: string | null;
}

/**
 * The job repository port. Its implementations differ only in the job-failure policy (contract §4):
 * what a missing price or FX rate does to the job. `valueBatch` values every request of a batch in one
 * transaction, so a failure of the database leaves no request half applied.
 */
export abstract class ValuationJobRepository {
  abstract readonly policyName: 'retrying' | 'legacy';
  abstract valueBatch(requests: readonly ValuationRequest[]): Promise<AttemptResult[]>;
}
