import { Injectable } from '@nestjs/common';
import { InjectMetric, makeCounterProvider, makeGaugeProvider } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge } from 'prom-client';
import type { ActiveJobStats, DataStats, JobStatusCounts } from '@app/persistence';

const JOBS = 'valuation_jobs';
const ATTEMPTS_MAX = 'valuation_job_attempts_max';
const OVER_THRESHOLD = 'valuation_jobs_over_attempt_threshold';
const OLDEST_DUE = 'valuation_job_oldest_due_seconds';
const DISPATCHED = 'valuation_jobs_dispatched_total';
const LEADER = 'valuation_scheduler_leader';
const PURGED = 'valuation_rows_purged_total';
const WAITING_ON_DATA = 'valuation_jobs_waiting_on_data';
const WATERMARK_LAG = 'valuation_position_watermark_lag_days';
const REPROCESSING = 'valuation_positions_reprocessing';
const REVALUATIONS_RUNNING = 'valuation_revaluations_running';

/** The tables the retention step purges (the label values of valuation_rows_purged_total). */
export type PurgedTable = 'valuation_outbox' | 'valuation_triggers' | 'valuation_job_attempts';

export const SCHEDULER_METRIC_PROVIDERS = [
  makeGaugeProvider({ name: JOBS, help: 'Valuation jobs by status', labelNames: ['status'] }),
  makeGaugeProvider({ name: ATTEMPTS_MAX, help: 'Highest attempt_count among PENDING and PROCESSING jobs' }),
  makeGaugeProvider({
    name: OVER_THRESHOLD,
    help: 'PENDING jobs with attempt_count above VALUATION_ALERT_ATTEMPT_THRESHOLD',
  }),
  makeGaugeProvider({ name: OLDEST_DUE, help: 'Age in seconds of the oldest due PENDING job (0: none due)' }),
  makeCounterProvider({ name: DISPATCHED, help: 'Valuation jobs published to valuation_required' }),
  makeGaugeProvider({ name: LEADER, help: '1 on the active scheduler, 0 on a standby' }),
  makeCounterProvider({
    name: PURGED,
    help: 'Rows deleted by the retention step (published outbox events, finished fan-out triggers)',
    labelNames: ['table'],
  }),
  makeGaugeProvider({
    name: WAITING_ON_DATA,
    help: 'PENDING jobs waiting on a missing price or FX rate, by kind (price, fx)',
    labelNames: ['kind'],
  }),
  makeGaugeProvider({
    name: WATERMARK_LAG,
    help: "Largest number of days a position key's watermark is behind the horizon",
  }),
  makeGaugeProvider({ name: REPROCESSING, help: 'Position keys not CURRENT' }),
  makeGaugeProvider({ name: REVALUATIONS_RUNNING, help: 'Revaluations not DONE' }),
];

/**
 * Contract §8, scheduler side. No per-portfolio or per-security labels. The job gauges describe the
 * table and only the leader refreshes them; a standby (or a deposed leader) drops them, so two
 * instances never both report the same backlog.
 */
@Injectable()
export class SchedulerMetrics {
  constructor(
    @InjectMetric(JOBS) private readonly jobs: Gauge<'status'>,
    @InjectMetric(ATTEMPTS_MAX) private readonly attemptsMax: Gauge,
    @InjectMetric(OVER_THRESHOLD) private readonly overThreshold: Gauge,
    @InjectMetric(OLDEST_DUE) private readonly oldestDue: Gauge,
    @InjectMetric(DISPATCHED) private readonly dispatched: Counter,
    @InjectMetric(LEADER) private readonly leader: Gauge,
    @InjectMetric(PURGED) private readonly purged: Counter<'table'>,
    @InjectMetric(WAITING_ON_DATA) private readonly waitingOnData: Gauge<'kind'>,
    @InjectMetric(WATERMARK_LAG) private readonly watermarkLag: Gauge,
    @InjectMetric(REPROCESSING) private readonly reprocessing: Gauge,
    @InjectMetric(REVALUATIONS_RUNNING) private readonly revaluations: Gauge,
  ) {
    this.leader.set(0);
  }

  setLeader(isLeader: boolean): void {
    this.leader.set(isLeader ? 1 : 0);
    if (!isLeader) this.dropJobGauges();
  }

  jobsDispatched(count: number): void {
    this.dispatched.inc(count);
  }

  rowsPurged(table: PurgedTable, count: number): void {
    this.purged.inc({ table }, count);
  }

  /** The alerting gauges; valuation_jobs itself is set by `jobCounts` alone. */
  activeJobs(stats: ActiveJobStats): void {
    this.attemptsMax.set(stats.attemptsMax);
    this.overThreshold.set(stats.overAttemptThreshold);
    this.oldestDue.set(stats.oldestDueSeconds);
  }

  /** valuation_jobs for every status, set together so a scrape never mixes two cycles' counts. */
  jobCounts(counts: JobStatusCounts): void {
    for (const [status, n] of Object.entries(counts)) this.jobs.set({ status }, n);
  }

  dataStats(stats: DataStats): void {
    this.waitingOnData.set({ kind: 'price' }, stats.waitingOnData.price);
    this.waitingOnData.set({ kind: 'fx' }, stats.waitingOnData.fx);
    this.watermarkLag.set(stats.watermarkLagDays);
    this.reprocessing.set(stats.positionsReprocessing);
  }

  /** valuation_revaluations_running: revaluations whose jobs are not all re-opened yet. */
  revaluationsRunning(count: number): void {
    this.revaluations.set(count);
  }

  private dropJobGauges(): void {
    this.jobs.reset();
    this.attemptsMax.reset();
    this.overThreshold.reset();
    this.oldestDue.reset();
    this.waitingOnData.reset();
    this.watermarkLag.reset();
    this.reprocessing.reset();
    this.revaluations.reset();
  }
}
