import type { JobFailurePolicy, JobStatus, JobTransition } from './job-policy';
import type { AttemptResult, ValuationRequest } from './job-repository.port';
import { valueJob } from './valuation';
import type { Snapshot, ValuationInput } from './valuation.types';
import { waitingOnKey } from './waiting-on-key';

/** A job as an attempt finds it, read for one request: its row and everything `valueJob` needs. */
export interface JobState {
  /** null: no job has the request's key. */
  jobId: string | null;
  status: JobStatus | null;
  claimToken: string | null;
  /** Its next attempt time (or, without one, its creation) has passed. */
  due: boolean;
  attemptCount: number;
  correlationId: string | null;
  input: ValuationInput;
}

/** A finished attempt, ready to be written: the claim it was made under and what it decided. */
export interface FinishedAttempt {
  jobId: string;
  /** null: a claimless request, which may only take a PENDING job that is due. */
  claimToken: string | null;
  correlationId: string | null;
  transition: JobTransition;
  snapshot: Snapshot | null;
  /** `transition.waitingOn` in its stored form (`waitingOnKey`). */
  waitingOnKey: string | null;
}

/** One request's result as planned. */
export interface PlannedResult {
  result: AttemptResult;
  /** The job a write must finish for the result to stand; null when the result needs no write. */
  attemptOf: string | null;
}

/** What a batch does: the attempts to write, and each request's result in request order. */
export interface AttemptPlan {
  writes: FinishedAttempt[];
  results: PlannedResult[];
}

/**
 * A request's identity within a batch: the job key and the claim it carries. The claim is part of it
 * because a stale copy (an expired or released claim) often shares a batch with the job's current
 * claim; deduplicating on the key alone kept whichever came first, so a stale copy ahead of the
 * current one hid it, and the job sat PROCESSING until its lease expired. At most one of the copies
 * can hold the job (one token per row; a claimless one only while the job is PENDING), so each job
 * is still attempted at most once per batch.
 */
const keyOf = (r: ValuationRequest) =>
  [r.key.portfolioId, r.key.securityId, r.key.valuationDate, r.key.epoch, r.claimToken ?? ''].join('\u0000');

/** For each request, whether it is the first with its key and claim; the copies after it are duplicates. */
function firstCopies(requests: readonly ValuationRequest[]): boolean[] {
  const seen = new Set<string>();
  return requests.map((r) => {
    const key = keyOf(r);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The requests a batch attempts, in order: a message delivered twice in one batch is attempted once. */
export function uniqueRequests(requests: readonly ValuationRequest[]): ValuationRequest[] {
  const first = firstCopies(requests);
  return requests.filter((_, i) => first[i]);
}

/** Whether this request may act on the job as found: it holds the claim, or it is claimless and the job is due. */
function holdsJob(request: ValuationRequest, job: JobState): boolean {
  return request.claimToken === null
    ? job.status === 'PENDING' && job.due
    : job.status === 'PROCESSING' && job.claimToken === request.claimToken;
}

function planOne(request: ValuationRequest, job: JobState, policy: JobFailurePolicy) {
  const { jobId } = job;
  if (jobId === null) {
    const result: AttemptResult = { request, outcome: 'unknown_job', jobId, reason: 'no job with this key' };
    return { result, attemptOf: null, write: null };
  }
  if (!holdsJob(request, job)) {
    const result: AttemptResult = { request, outcome: 'lost_claim', jobId, reason: `job is ${job.status}` };
    return { result, attemptOf: null, write: null };
  }
  const outcome = valueJob(job.input);
  const transition = policy.transition(outcome, job.attemptCount);
  const write: FinishedAttempt = {
    jobId,
    claimToken: request.claimToken,
    correlationId: request.correlationId ?? job.correlationId,
    transition,
    snapshot: 'snapshot' in outcome ? outcome.snapshot : null,
    waitingOnKey: waitingOnKey(request.key.securityId, transition.waitingOn),
  };
  const result: AttemptResult = {
    request,
    outcome: transition.outcome,
    jobId,
    reason: transition.failureReason,
  };
  return { result, attemptOf: jobId, write };
}

/**
 * Plans a batch in memory: who may act on each job, the valuation and the policy's transition.
 * `jobs[i]` is the job of `uniqueRequests(requests)[i]`, as read in the batch's transaction.
 */
export function planAttempts(
  requests: readonly ValuationRequest[],
  jobs: readonly JobState[],
  policy: JobFailurePolicy,
): AttemptPlan {
  const first = firstCopies(requests);
  if (first.filter(Boolean).length !== jobs.length) {
    throw new Error(`expected one job state per unique request, got ${jobs.length}`);
  }
  const plan: AttemptPlan = { writes: [], results: [] };
  let next = 0;
  requests.forEach((request, i) => {
    if (!first[i]) {
      const result: AttemptResult = {
        request,
        outcome: 'lost_claim',
        jobId: null,
        reason: 'duplicate in batch',
      };
      plan.results.push({ result, attemptOf: null });
      return;
    }
    const { result, attemptOf, write } = planOne(request, jobs[next++], policy);
    if (write) plan.writes.push(write);
    plan.results.push({ result, attemptOf });
  });
  return plan;
}

/** The results in request order, once the write has said which jobs it finished. */
export function settleAttempts(plan: AttemptPlan, finished: ReadonlySet<string>): AttemptResult[] {
  return plan.results.map(({ result, attemptOf }) =>
    attemptOf === null || finished.has(attemptOf)
      ? result
      : // The claim was re-issued (or the job settled) between the read and the write.
        { request: result.request, outcome: 'lost_claim', jobId: attemptOf, reason: 'claim no longer held' },
  );
}
