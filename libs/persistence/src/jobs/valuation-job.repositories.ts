import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  AttemptResult,
  JobFailurePolicy,
  LegacyJobPolicy,
  RetryingJobPolicy,
  ValuationJobRepository,
  ValuationRequest,
  valueJob,
} from '@app/valuation';
import { PERSISTENCE_OPTIONS, type PersistenceOptions } from '../persistence.options';
import { loadValuationInputs, type LoadedJob } from './valuation-inputs.query';
import { writeFinishedAttempts, type FinishedAttempt } from './job-outcome.writer';

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

/** Whether this request may act on the job as found: it holds the claim, or it is claimless and the job is due. */
function holdsJob(request: ValuationRequest, job: LoadedJob): boolean {
  return request.claimToken === null
    ? job.status === 'PENDING' && job.due
    : job.status === 'PROCESSING' && job.claimToken === request.claimToken;
}

/**
 * Values a batch in one transaction: one read for every request, the pure valuation and the policy in
 * memory, one write. The policy is the only thing the two repositories below differ in.
 */
@Injectable()
export class ValuationBatchRunner {
  constructor(
    private readonly ds: DataSource,
    @Inject(PERSISTENCE_OPTIONS) private readonly options: PersistenceOptions,
  ) {}

  async run(requests: readonly ValuationRequest[], policy: JobFailurePolicy): Promise<AttemptResult[]> {
    // A message delivered twice in one batch is attempted once; the copies lose the claim.
    const seen = new Set<string>();
    const unique = requests.filter((r) => !seen.has(keyOf(r)) && seen.add(keyOf(r)));
    const results = new Map<ValuationRequest, AttemptResult>();

    await this.ds.transaction(async (manager) => {
      const loaded = await loadValuationInputs(
        manager,
        unique.map((r) => r.key),
      );
      const attempts: FinishedAttempt[] = [];
      const attempted = new Map<string, ValuationRequest>();
      unique.forEach((request, i) => {
        const job = loaded[i];
        if (job.jobId === null) {
          results.set(request, {
            request,
            outcome: 'unknown_job',
            jobId: null,
            reason: 'no job with this key',
          });
          return;
        }
        if (!holdsJob(request, job)) {
          results.set(request, {
            request,
            outcome: 'lost_claim',
            jobId: job.jobId,
            reason: `job is ${job.status}`,
          });
          return;
        }
        const outcome = valueJob(job.input);
        const transition = policy.transition(outcome, job.attemptCount);
        const snapshot = 'snapshot' in outcome ? outcome.snapshot : null;
        attempts.push({
          jobId: job.jobId,
          securityId: request.key.securityId,
          claimToken: request.claimToken,
          correlationId: request.correlationId ?? job.correlationId,
          transition,
          snapshot,
        });
        attempted.set(job.jobId, request);
        results.set(request, {
          request,
          outcome: transition.outcome,
          jobId: job.jobId,
          reason: transition.failureReason,
        });
      });
      const finished = await writeFinishedAttempts(
        manager,
        attempts,
        this.options.snapshotTopic,
        this.options.workerId ?? 'calculator',
      );
      for (const [jobId, request] of attempted) {
        if (finished.has(jobId)) continue;
        // The claim was re-issued (or the job settled) between the read and the write.
        results.set(request, { request, outcome: 'lost_claim', jobId, reason: 'claim no longer held' });
      }
    });
    return requests.map(
      (request) =>
        results.get(request) ?? { request, outcome: 'lost_claim', jobId: null, reason: 'duplicate in batch' },
    );
  }
}

/** Default policy: a missing price or FX rate keeps the job PENDING with a backoff. */
@Injectable()
export class RetryingValuationJobRepository extends ValuationJobRepository {
  override readonly policyName = 'retrying';
  private readonly policy: RetryingJobPolicy;

  constructor(
    private readonly runner: ValuationBatchRunner,
    @Inject(PERSISTENCE_OPTIONS) options: PersistenceOptions,
  ) {
    super();
    this.policy = new RetryingJobPolicy(options.retry);
  }

  override valueBatch(requests: readonly ValuationRequest[]): Promise<AttemptResult[]> {
    return this.runner.run(requests, this.policy);
  }
}

/** The behaviour before the RFC: a missing price or FX rate completes the job with a FAILED snapshot. */
@Injectable()
export class LegacyValuationJobRepository extends ValuationJobRepository {
  override readonly policyName = 'legacy';
  private readonly policy = new LegacyJobPolicy();

  constructor(private readonly runner: ValuationBatchRunner) {
    super();
  }

  override valueBatch(requests: readonly ValuationRequest[]): Promise<AttemptResult[]> {
    return this.runner.run(requests, this.policy);
  }
}
