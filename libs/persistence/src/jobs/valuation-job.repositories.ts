import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  AttemptResult,
  JobFailurePolicy,
  LegacyJobPolicy,
  planAttempts,
  RetryingJobPolicy,
  settleAttempts,
  uniqueRequests,
  ValuationJobRepository,
  ValuationRequest,
} from '@app/valuation';
import { PERSISTENCE_OPTIONS, type PersistenceOptions } from '../persistence.options';
import { loadValuationInputs } from './valuation-inputs.query';
import { writeFinishedAttempts } from './job-outcome.writer';

/**
 * Values a batch in one transaction: one read for every request, the domain's plan in memory (who
 * may act, the valuation, the policy), one write, then the results of what the write finished. The
 * policy is the only thing the two repositories below differ in.
 */
@Injectable()
export class ValuationBatchRunner {
  constructor(
    private readonly ds: DataSource,
    @Inject(PERSISTENCE_OPTIONS) private readonly options: PersistenceOptions,
  ) {}

  async run(requests: readonly ValuationRequest[], policy: JobFailurePolicy): Promise<AttemptResult[]> {
    const keys = uniqueRequests(requests).map((r) => r.key);
    return this.ds.transaction(async (manager) => {
      const plan = planAttempts(requests, await loadValuationInputs(manager, keys), policy);
      const finished = await writeFinishedAttempts(
        manager,
        plan.writes,
        this.options.snapshotTopic,
        this.options.workerId ?? 'calculator',
      );
      return settleAttempts(plan, finished);
    });
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
