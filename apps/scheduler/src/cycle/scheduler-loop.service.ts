import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { AppConfig } from '@app/config';
import { LeaderElectionService } from './leader-election.service';
import { SchedulerCycleService } from './scheduler-cycle.service';

export const LOOP_OPTIONS = Symbol('LOOP_OPTIONS');
export interface LoopOptions {
  /** false: nothing runs on its own; the steps run only when called (specs of single steps). */
  enabled: boolean;
}

const TIMEOUT_NAME = 'valuation-scheduler-cycle';
/**
 * The pause after a cycle whose dispatch filled at least one whole batch: due jobs are probably still
 * waiting, and a backlog drained one in-flight window per poll interval (2 s by default) would leave
 * the calculators idle most of the time. Never longer than the poll interval.
 */
export const BUSY_INTERVAL_MS = 250;
/** How long shutdown waits for a running cycle before closing the connections under it. */
const STOP_WAIT_MS = 5000;

/**
 * Drives the cycle with a self-rescheduling timeout (registered with @nestjs/schedule's registry):
 * the next tick is armed only after the previous one finished, so cycles never overlap however long
 * one takes. Every tick a standby tries to become leader and a leader confirms its lock; only the
 * leader runs the steps. The next tick comes after the poll interval, or sooner while a backlog is
 * being dispatched (BUSY_INTERVAL_MS).
 */
@Injectable()
export class SchedulerLoopService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SchedulerLoopService.name);
  private stopped = false;
  private running: Promise<void> | null = null;

  constructor(
    private readonly registry: SchedulerRegistry,
    private readonly election: LeaderElectionService,
    private readonly cycle: SchedulerCycleService,
    private readonly config: AppConfig,
    @Inject(LOOP_OPTIONS) private readonly options: LoopOptions,
  ) {}

  onApplicationBootstrap(): void {
    if (this.options.enabled) this.arm(0);
  }

  /** Stops arming ticks and waits (bounded) for a running cycle, before the pool and producer close. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    if (this.registry.doesExist('timeout', TIMEOUT_NAME)) this.registry.deleteTimeout(TIMEOUT_NAME);
    if (this.running === null) return;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'timeout'>(
      (resolve) => (timer = setTimeout(() => resolve('timeout'), STOP_WAIT_MS)),
    );
    const outcome = await Promise.race([this.running.then(() => 'done' as const), gaveUp]);
    clearTimeout(timer);
    if (outcome === 'timeout')
      this.logger.warn(`a cycle was still running after ${STOP_WAIT_MS} ms; stopping anyway`);
  }

  private arm(delayMs: number): void {
    if (this.stopped) return;
    const timeout = setTimeout(() => {
      this.registry.deleteTimeout(TIMEOUT_NAME);
      const { pollIntervalMs } = this.config.scheduler;
      // tick() never rejects: a failed cycle is logged and the next one armed all the same.
      this.running = this.tick().then((busy) => {
        this.running = null;
        this.arm(busy ? Math.min(pollIntervalMs, BUSY_INTERVAL_MS) : pollIntervalMs);
      });
    }, delayMs);
    this.registry.addTimeout(TIMEOUT_NAME, timeout);
  }

  /** Runs one tick; true when its dispatch filled a whole batch (more due jobs are likely waiting). */
  private async tick(): Promise<boolean> {
    try {
      if (!(await this.election.poll()) || this.stopped) return false;
      const report = await this.cycle.runCycle(() => this.election.isLeader && !this.stopped);
      return (report.dispatch ?? 0) >= this.config.scheduler.batchSize;
    } catch (error) {
      this.logger.error(`scheduler cycle failed: ${error instanceof Error ? error.message : String(error)}`);
      return false;
    }
  }
}
