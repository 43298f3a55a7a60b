import { DynamicModule, Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { AppConfig } from '@app/config';
import { KafkaReadiness, MessagingModule } from '@app/messaging';
import { ObservabilityModule } from '@app/observability';
import { DatabaseReadiness, PersistenceModule, SchedulingPersistenceModule } from '@app/persistence';
import { CYCLE_LIMITS, cycleLimitsFor } from './cycle/cycle-limits';
import { LeaderElectionService } from './cycle/leader-election.service';
import { SchedulerCycleService } from './cycle/scheduler-cycle.service';
import { LOOP_OPTIONS, SchedulerLoopService, type LoopOptions } from './cycle/scheduler-loop.service';
import { JobsController } from './jobs-api/jobs.controller';
import { MissingDataController } from './missing-data/missing-data.controller';
import { RevaluationsController } from './revaluations/revaluations.controller';
import { OPERATORS_API_PROVIDERS } from './operators';
import { SCHEDULER_METRIC_PROVIDERS, SchedulerMetrics } from './scheduler.metrics';

export interface SchedulerModuleOptions {
  /** Process metrics (CPU, memory, event loop); off in tests so values stay deterministic. */
  defaultMetrics?: boolean;
  /** false: the cycle never runs on its own (specs that call single steps). Default true. */
  runLoop?: boolean;
}

/** The scheduler's composition root: the same libs the calculator uses, plus its cycle and API. */
@Module({})
export class SchedulerModule {
  static forRoot(config: AppConfig, options: SchedulerModuleOptions = {}): DynamicModule {
    const loop: LoopOptions = { enabled: options.runLoop ?? true };
    return {
      module: SchedulerModule,
      imports: [
        PersistenceModule.forRoot({
          connection: config.database.connection,
          poolSize: 5,
          timeouts: config.database,
          jobPolicy: config.jobPolicy,
          retry: config.retry,
          snapshotTopic: config.kafka.topics.snapshotPersisted,
          workerId: config.kafka.clientId,
        }),
        SchedulingPersistenceModule,
        MessagingModule.forRoot(config.kafka),
        ObservabilityModule.forRoot({
          readinessChecks: [DatabaseReadiness, KafkaReadiness],
          defaultMetrics: options.defaultMetrics,
        }),
        ScheduleModule.forRoot(),
      ],
      controllers: [JobsController, MissingDataController, RevaluationsController],
      providers: [
        { provide: AppConfig, useValue: config },
        { provide: CYCLE_LIMITS, useValue: cycleLimitsFor(config.scheduler) },
        { provide: LOOP_OPTIONS, useValue: loop },
        ...SCHEDULER_METRIC_PROVIDERS,
        SchedulerMetrics,
        LeaderElectionService,
        SchedulerCycleService,
        SchedulerLoopService,
        ...OPERATORS_API_PROVIDERS,
      ],
    };
  }
}
