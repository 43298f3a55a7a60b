import { DynamicModule, INestApplication, Module } from '@nestjs/common';
import type { MicroserviceOptions } from '@nestjs/microservices';
import { AppConfig } from '@app/config';
import { IdempotentPublisher, KafkaReadiness, MessagingModule } from '@app/messaging';
import { ObservabilityModule } from '@app/observability';
import { DatabaseReadiness, PersistenceModule } from '@app/persistence';
import { CALCULATOR_METRIC_PROVIDERS, CalculatorMetrics } from './calculator.metrics';
import { CalculatorInputsController } from './consumer/calculator-inputs.controller';
import { DeadLetterPublisher } from './consumer/dead-letter.publisher';
import { MarketDataHandler } from './consumer/market-data.handler';
import { ValuationRequiredHandler } from './consumer/valuation-required.handler';
import { OutboxRelay } from './outbox/outbox.relay';
import { KafkaBatchTransport } from './transport/kafka-batch.transport';
import { PartitionProgress } from './transport/partition-progress';

/**
 * The calculator's composition root: the same libs the scheduler uses, plus its Kafka edge (the
 * transport, attached by `connectKafkaInputs`, and the controller whose handlers it calls).
 */
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
      controllers: [CalculatorInputsController],
      providers: [
        { provide: AppConfig, useValue: config },
        ...CALCULATOR_METRIC_PROVIDERS,
        CalculatorMetrics,
        { provide: PartitionProgress, useValue: progress },
        DeadLetterPublisher,
        ValuationRequiredHandler,
        MarketDataHandler,
        KafkaBatchTransport,
        IdempotentPublisher,
        OutboxRelay,
      ],
    };
  }
}

/**
 * Makes the app hybrid: its HTTP server (health, metrics) and the Kafka transport of its inputs. The
 * app is initialised first, so the topics exist and the outbox relay runs before the first chunk.
 */
export async function connectKafkaInputs(app: INestApplication): Promise<void> {
  app.connectMicroservice<MicroserviceOptions>({ strategy: app.get(KafkaBatchTransport) });
  await app.init();
  await app.startAllMicroservices();
}
