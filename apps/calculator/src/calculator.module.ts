import { DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { IdempotentPublisher, KafkaReadiness, MessagingModule } from '@app/messaging';
import { ObservabilityModule } from '@app/observability';
import { DatabaseReadiness, PersistenceModule } from '@app/persistence';
import { CALCULATOR_METRIC_PROVIDERS, CalculatorMetrics } from './calculator.metrics';
import { CalculatorConsumer } from './consumer/calculator.consumer';
import { DeadLetterPublisher } from './consumer/dead-letter.publisher';
import { MarketDataHandler } from './consumer/market-data.handler';
import { PartitionProgress } from './consumer/partition-progress';
import { ValuationRequiredHandler } from './consumer/valuation-required.handler';
import { OutboxRelay } from './outbox/outbox.relay';

/** The calculator's composition root: the same libs the scheduler uses, plus its Kafka edge. */
@Module({})
export class CalculatorModule {
  static forRoot(config: AppConfig, options: { defaultMetrics?: boolean } = {}): DynamicModule {
    const progress = new PartitionProgress(config.calculator.stallSeconds, config.kafka.topics);
    return {
      module: CalculatorModule,
      imports: [
        PersistenceModule.forRoot({
          connection: config.database.connection,
          poolSize: 12,
          timeouts: config.database,
          jobPolicy: config.jobPolicy,
          retry: config.retry,
          snapshotTopic: config.kafka.topics.snapshotPersisted,
          workerId: config.kafka.clientId,
        }),
        MessagingModule.forRoot(config.kafka),
        ObservabilityModule.forRoot({
          readinessChecks: [DatabaseReadiness, KafkaReadiness, progress],
          defaultMetrics: options.defaultMetrics,
        }),
      ],
      providers: [
        { provide: AppConfig, useValue: config },
        ...CALCULATOR_METRIC_PROVIDERS,
        CalculatorMetrics,
        { provide: PartitionProgress, useValue: progress },
        DeadLetterPublisher,
        ValuationRequiredHandler,
        MarketDataHandler,
        CalculatorConsumer,
        IdempotentPublisher,
        OutboxRelay,
      ],
    };
  }
}
