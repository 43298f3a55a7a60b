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
/** How long shutdown waits for a running cycle before closing the connections under it. */
const STOP_WAIT_MS = 5000;

/**
 * Drives the cycle with a self-rescheduling timeout (registered with @nestjs/schedule's registry):
 * the next tick is armed only after the previous one finished, so cycles never overlap however long
 * one takes. Every tick a standby tries to become leader and a leader confirms its lock; only the
 * leader runs the steps.
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
      this.running = this.tick().finally(() => {
        this.running = null;
        this.arm(this.config.scheduler.pollIntervalMs);
      });
    }, delayMs);
    this.registry.addTimeout(TIMEOUT_NAME, timeout);
  }

  private async tick(): Promise<void> {
    try {
      if (!(await this.election.poll()) || this.stopped) return;
      await this.cycle.runCycle(() => this.election.isLeader && !this.stopped);
    } catch (error) {
      this.logger.error(`scheduler cycle failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
