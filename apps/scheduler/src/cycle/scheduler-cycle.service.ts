import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { buildValuationRequired, EventPublisher, type OutgoingMessage } from '@app/messaging';
import { withTimeout } from '@app/observability';
import {
  BackfillRepository,
  BusinessCalendarRepository,
  type ClaimedJob,
  type ClaimRecovery,
  FanOutRepository,
  JobClaimsRepository,
  JobRecoveryRepository,
  JobStatsRepository,
  type PositionKey,
  RetentionRepository,
  RevaluationsRepository,
  WatermarkRepository,
} from '@app/persistence';
import { retryAfterFailure } from '@app/valuation';
import { SchedulerMetrics } from '../scheduler.metrics';
import { CYCLE_LIMITS, type CycleLimits } from './cycle-limits';

export const LEASE_EXPIRED_REASON = 'claim lease expired';
/** The history's reason for claims a scheduler gave back unpublished because it lost its leadership. */
export const LEADERSHIP_LOST_REASON = 'leadership lost before the publish';

export interface FanOutReport {
  triggers: number;
  completed: number;
  reopened: number;
  woken: number;
}

export interface KeyPassReport {
  keysSeen: number;
  changed: number;
}

/** Rows the retention step deleted this cycle, per table. */
export interface PurgeReport {
  outbox: number;
  triggers: number;
  attempts: number;
}

const STEPS = [
  'recoverExpiredClaims',
  'supersedeObsolete',
  'backfill',
  'fanOut',
  'advanceWatermarks',
  'dispatch',
  'purgeExpired',
  'refreshGauges',
] as const;
type StepName = (typeof STEPS)[number];

/** What each step of a cycle returned (absent: the step failed or did not run). */
export type CycleReport = { [S in StepName]?: Awaited<ReturnType<SchedulerCycleService[S]>> };

/**
 * The scheduler's cycle (contract §5), one method per step. Every step is bounded by CycleLimits
 * and resumes where the previous cycle stopped, so a cycle stays short however much work is queued.
 * Time is always the database's clock (`now()` in the SQL), never this process's.
 */
@Injectable()
export class SchedulerCycleService {
  private readonly logger = new Logger(SchedulerCycleService.name);
  // Rotating cursors: in memory on purpose, a new leader simply starts a fresh round.
  private backfillCursor: PositionKey | null = null;
  private watermarkCursor: PositionKey | null = null;

  constructor(
    private readonly config: AppConfig,
    @Inject(CYCLE_LIMITS) private readonly limits: CycleLimits,
    private readonly recovery: JobRecoveryRepository,
    private readonly calendar: BusinessCalendarRepository,
    private readonly backfills: BackfillRepository,
    private readonly fanOuts: FanOutRepository,
    private readonly watermarks: WatermarkRepository,
    private readonly claims: JobClaimsRepository,
    private readonly publisher: EventPublisher,
    private readonly stats: JobStatsRepository,
    private readonly metrics: SchedulerMetrics,
    private readonly retention: RetentionRepository,
    private readonly revaluations: RevaluationsRepository,
  ) {}

  /**
   * Runs the steps in order. `stillLeader` is asked before each step, so an instance that lost its
   * lock stops at once. A failing step is logged and the others still run: a broker outage must not
   * stop recovery, and a slow fan-out must not stop dispatch.
   */
  async runCycle(stillLeader: () => boolean): Promise<CycleReport> {
    const report: Partial<Record<StepName, unknown>> = {};
    for (const step of STEPS) {
      if (!stillLeader()) break;
      try {
        // Dispatch asks again before each publish: a process frozen between its claim and its publish
        // may have been replaced meanwhile.
        report[step] = await (step === 'dispatch' ? this.dispatch(stillLeader) : this[step]());
      } catch (error) {
        this.logger.error(`step ${step} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    this.logger.debug(`cycle ${JSON.stringify(report)}`);
    return report as CycleReport;
  }

  /** PROCESSING jobs whose lease ran out count a failed attempt: PENDING after backoff, or FAILED. */
  async recoverExpiredClaims(): Promise<number> {
    const expired = await this.recovery.findExpiredClaims(this.limits.recoverRows);
    const recoveries = expired.map((claim): ClaimRecovery => {
      const next = retryAfterFailure(claim.attemptCount, LEASE_EXPIRED_REASON, this.config.retry);
      return {
        jobId: claim.jobId,
        claimToken: claim.claimToken,
        status: next.status === 'FAILED' ? 'FAILED' : 'PENDING',
        attemptCount: next.attemptCount,
        failureReason: next.failureReason,
        delaySeconds: next.delaySeconds,
      };
    });
    const recovered = await this.recovery.applyRecoveries(recoveries);
    if (recovered.length) this.logger.warn(`recovered ${recovered.length} jobs whose claim lease expired`);
    return recovered.length;
  }

  /** PENDING, PROCESSING and FAILED jobs of an epoch older than the key's current one become SKIPPED_SUPERSEDED. */
  async supersedeObsolete(): Promise<number> {
    return this.recovery.supersedeObsolete(this.limits.supersedeRows);
  }

  /** Creates the current epoch's jobs up to the horizon, one bounded pass over the keys per cycle. */
  async backfill(): Promise<KeyPassReport | null> {
    const horizon = await this.calendar.horizon(this.config.scheduler.businessCalendarCode);
    if (horizon === null) return null;
    const pass = await this.backfills.backfill({
      horizon,
      after: this.backfillCursor,
      keyLimit: this.limits.backfillKeys,
      rowLimit: this.limits.backfillRows,
    });
    this.backfillCursor = pass.resumeAfter;
    return { keysSeen: pass.keysSeen, changed: pass.jobsCreated };
  }

  /**
   * Works through the open price/FX triggers oldest first, one chunk each, until the cycle's trigger
   * or row budget is spent. A large trigger advances by one chunk per cycle while the ones behind it
   * still get their turn, and dispatch runs after this step every cycle.
   */
  async fanOut(): Promise<FanOutReport> {
    const report: FanOutReport = { triggers: 0, completed: 0, reopened: 0, woken: 0 };
    const triggers = await this.fanOuts.openTriggers(this.limits.fanOutTriggers);
    let rows = 0;
    for (const trigger of triggers) {
      if (rows >= this.limits.fanOutRows) break;
      const chunk = await this.fanOuts.fanOutChunk(trigger, this.limits.fanOutChunk);
      rows += chunk.examined + chunk.woken;
      report.triggers += 1;
      report.completed += chunk.completed ? 1 : 0;
      report.reopened += chunk.reopened;
      report.woken += chunk.woken;
    }
    return report;
  }

  /** Moves watermarks up to the last date whose jobs all settled without failure. */
  async advanceWatermarks(): Promise<KeyPassReport | null> {
    const horizon = await this.calendar.horizon(this.config.scheduler.businessCalendarCode);
    if (horizon === null) return null;
    const pass = await this.watermarks.advance({
      horizon,
      after: this.watermarkCursor,
      keyLimit: this.limits.watermarkKeys,
    });
    this.watermarkCursor = pass.resumeAfter;
    return { keysSeen: pass.keysSeen, changed: pass.advanced };
  }

  /**
   * Claims due jobs and publishes them, in rounds of at most one batch and never above the in-flight
   * cap. A batch whose publish failed, or was not acknowledged in time, is released at once (due
   * again, no attempt counted) and the step stops: the broker is unlikely to accept the next round
   * either. A send that still completes after the timeout only delivers claims that were released,
   * which the calculator ignores (lost_claim). A scheduler that lost its leadership between claiming
   * and publishing (frozen, say) gives the claims back unpublished.
   */
  async dispatch(stillLeader: () => boolean = () => true): Promise<number> {
    const { batchSize, maxInFlight, claimLeaseSeconds } = this.config.scheduler;
    let dispatched = 0;
    for (let round = 0; round < this.limits.dispatchRounds; round++) {
      const want = Math.min(batchSize, maxInFlight - (await this.claims.countInFlight()));
      if (want <= 0) break;
      const batch = await this.claims.claimDueJobs(want, claimLeaseSeconds);
      if (batch.length === 0) break;
      if (!stillLeader()) {
        const released = await this.claims.releaseClaims(batch, LEADERSHIP_LOST_REASON);
        this.logger.warn(`lost leadership before publishing ${batch.length} claims: ${released} released`);
        break;
      }
      try {
        await withTimeout(
          this.publisher.publish(this.config.kafka.topics.valuationRequired, batch.map(toMessage)),
          this.limits.dispatchPublishTimeoutMs,
          'the broker',
        );
      } catch (error) {
        const released = await this.claims.releaseClaims(batch);
        throw new Error(
          `publishing ${batch.length} jobs failed, ${released} claims released: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      }
      dispatched += batch.length;
      this.metrics.jobsDispatched(batch.length);
      if (batch.length < want) break;
    }
    return dispatched;
  }

  /**
   * Retention (`VALUATION_RETENTION_HOURS`): outbox events published, and fan-out triggers completed,
   * longer ago than that are deleted, oldest first, at most `purgeRows` of each per cycle. Unpublished
   * events and open triggers are never touched, however old. A job's attempt history
   * (`VALUATION_ATTEMPT_HISTORY_DAYS`) goes the same way, by when each attempt ended.
   */
  async purgeExpired(): Promise<PurgeReport> {
    const olderThanSeconds = this.config.scheduler.retentionHours * 3600;
    const outbox = await this.retention.purgePublishedEvents(olderThanSeconds, this.limits.purgeRows);
    this.metrics.rowsPurged('valuation_outbox', outbox);
    const triggers = await this.retention.purgeCompletedTriggers(olderThanSeconds, this.limits.purgeRows);
    this.metrics.rowsPurged('valuation_triggers', triggers);
    const attempts = await this.retention.purgeAttemptHistory(
      this.config.scheduler.attemptHistoryDays * 86_400,
      this.limits.purgeRows,
    );
    this.metrics.rowsPurged('valuation_job_attempts', attempts);
    return { outbox, triggers, attempts };
  }

  /**
   * Every gauge, every cycle: valuation_jobs for every status exact while the table is under
   * `exactJobCountMaxRows` (above it the settled statuses are estimated, the others still exact),
   * the alerting gauges, and the missing-data and watermark gauges of contract §9.
   */
  async refreshGauges(): Promise<void> {
    const active = await this.stats.activeStats(this.config.scheduler.alertAttemptThreshold);
    const all = await this.stats.statusCounts(this.limits.exactJobCountMaxRows);
    this.metrics.activeJobs(active);
    this.metrics.jobCounts(all.exact ? all.counts : { ...all.counts, ...active.counts });
    const horizon = await this.calendar.horizon(this.config.scheduler.businessCalendarCode);
    this.metrics.dataStats(await this.stats.dataStats(horizon));
    this.metrics.revaluationsRunning(await this.revaluations.countRunning());
  }
}

/** `valuation_required` (contract §6), keyed by portfolio, with the claim that alone may finish it. */
function toMessage(job: ClaimedJob): OutgoingMessage {
  return buildValuationRequired({
    portfolio_id: job.portfolioId,
    security_id: job.securityId,
    valuation_date: job.valuationDate,
    epoch: job.epoch,
    correlation_id: job.correlationId,
    job_id: job.jobId,
    claim_token: job.claimToken,
  });
}
