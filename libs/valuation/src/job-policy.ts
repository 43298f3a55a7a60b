import { backoffDelaySeconds, type RetrySettings } from './retry-backoff';
import type { ValuationOutcome, WaitingOn } from './valuation.types';

/** Contract §2.2: every status a valuation job can have. */
export const JOB_STATUSES = [
  'PENDING',
  'PROCESSING',
  'COMPLETE',
  'FAILED',
  'SKIPPED_NO_POSITION',
  'SKIPPED_SUPERSEDED',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Label of `valuation_jobs_processed_total` (contract §8). */
export type ProcessedOutcome =
  'complete' | 'retry_scheduled' | 'failed' | 'skipped_no_position' | 'skipped_superseded' | 'lost_claim';

/** What the job row becomes after an attempt. */
export interface JobTransition {
  status: JobStatus;
  attemptCount: number;
  failureReason: string | null;
  /** Seconds from now to next_attempt_at; null leaves next_attempt_at null. */
  delaySeconds: number | null;
  /** Set only on a PENDING job, so the arrival of that price or rate makes it due at once. */
  waitingOn: WaitingOn | null;
  outcome: ProcessedOutcome;
}

type SettledOutcome = Exclude<ValuationOutcome, { kind: 'missing_data' }>;

/**
 * Contract §4: what a missing price or FX rate does to a job. The policies differ only there; every
 * other outcome settles the job the same way in both.
 *
 * attempt_count counts the attempts that failed: +1 for missing data and for invalid data in both
 * policies, unchanged when the job is valued or skipped. A success never resets it (§4: it is the
 * job's history), and a legacy COMPLETE-with-FAILED-snapshot still shows that it failed once.
 */
export abstract class JobFailurePolicy {
  abstract readonly name: 'retrying' | 'legacy';
  abstract transition(outcome: ValuationOutcome, previousAttempts: number): JobTransition;
}

/** Missing data is transient: back off and retry, waiting on the missing price or rate. */
export class RetryingJobPolicy extends JobFailurePolicy {
  override readonly name = 'retrying';

  constructor(
    private readonly settings: RetrySettings,
    private readonly random: () => number = Math.random,
  ) {
    super();
  }

  override transition(outcome: ValuationOutcome, previousAttempts: number): JobTransition {
    if (outcome.kind !== 'missing_data') return settle(outcome, previousAttempts);
    const next = retryAfterFailure(previousAttempts, outcome.reason, this.settings, this.random);
    return next.status === 'PENDING' ? { ...next, waitingOn: outcome.waitingOn } : next;
  }
}

/** The old behaviour, kept selectable: missing data completes the job with a FAILED snapshot. */
export class LegacyJobPolicy extends JobFailurePolicy {
  override readonly name = 'legacy';

  override transition(outcome: ValuationOutcome, previousAttempts: number): JobTransition {
    if (outcome.kind !== 'missing_data') return settle(outcome, previousAttempts);
    return {
      status: 'COMPLETE',
      attemptCount: previousAttempts + 1,
      failureReason: outcome.reason,
      delaySeconds: null,
      waitingOn: null,
      outcome: 'complete',
    };
  }
}

/**
 * One more failed attempt: PENDING after a backoff, or FAILED once `maxAttempts` (when > 0) is
 * reached. Shared by the retrying policy and by the scheduler's recovery of expired claims, so a
 * job that keeps crashing its worker is bounded by the same limit as one that keeps missing data.
 */
export function retryAfterFailure(
  previousAttempts: number,
  reason: string,
  s: RetrySettings,
  random: () => number = Math.random,
): JobTransition {
  const attemptCount = previousAttempts + 1;
  if (s.maxAttempts > 0 && attemptCount >= s.maxAttempts) {
    return failed(attemptCount, `retries exhausted: ${reason}`);
  }
  return {
    status: 'PENDING',
    attemptCount,
    failureReason: reason,
    delaySeconds: backoffDelaySeconds(attemptCount, s, random),
    waitingOn: null,
    outcome: 'retry_scheduled',
  };
}

function settle(outcome: SettledOutcome, previousAttempts: number): JobTransition {
  switch (outcome.kind) {
    case 'valued':
      return done('COMPLETE', previousAttempts, 'complete');
    case 'no_position':
      return done('SKIPPED_NO_POSITION', previousAttempts, 'skipped_no_position');
    case 'superseded':
      return done('SKIPPED_SUPERSEDED', previousAttempts, 'skipped_superseded');
    case 'invalid':
      return failed(previousAttempts + 1, outcome.reason);
  }
}

// A terminal success clears the reason of earlier failed attempts: it no longer describes the job.
function done(status: JobStatus, attemptCount: number, outcome: ProcessedOutcome): JobTransition {
  return { status, attemptCount, failureReason: null, delaySeconds: null, waitingOn: null, outcome };
}

function failed(attemptCount: number, failureReason: string): JobTransition {
  return {
    status: 'FAILED',
    attemptCount,
    failureReason,
    delaySeconds: null,
    waitingOn: null,
    outcome: 'failed',
  };
}
