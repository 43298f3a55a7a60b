import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { KafkaSettings } from '@app/config';
import { KAFKA_CLIENT, KAFKA_SETTINGS } from '@app/messaging';
import { OutboxRelay } from '../outbox/outbox.relay';
import type { BatchHandler } from './incoming-batch';
import { MarketDataHandler } from './market-data.handler';
import { PartitionProgress } from './partition-progress';
import { ValuationRequiredHandler } from './valuation-required.handler';

/** Messages handled per transaction: large enough to amortise round trips, small enough to keep latency low. */
export const CHUNK_SIZE = 500;

/**
 * The calculator's one consumer: the three input topics in one group. Offsets are committed by hand,
 * only after the chunk's transaction (and its dead letters) went through; an infrastructure failure
 * throws, nothing is committed, and kafkajs redelivers from the last committed offset.
 */
@Injectable()
export class CalculatorConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(CalculatorConsumer.name);
  private readonly consumer: Consumer;
  private readonly handlers: Map<string, BatchHandler>;

  constructor(
    @Inject(KAFKA_CLIENT) kafka: Kafka,
    @Inject(KAFKA_SETTINGS) private readonly settings: KafkaSettings,
    valuations: ValuationRequiredHandler,
    marketData: MarketDataHandler,
    private readonly outbox: OutboxRelay,
    private readonly progress: PartitionProgress,
  ) {
    this.consumer = kafka.consumer({
      groupId: settings.consumerGroup,
      sessionTimeout: 30000,
      heartbeatInterval: 3000,
      maxBytesPerPartition: 2 * 1024 * 1024,
      // An idle fetch returns after this long; shutdown waits for the fetch in flight, so keep it short.
      maxWaitTimeInMs: 1000,
      retry: { retries: 10, initialRetryTime: 500, maxRetryTime: 10000 },
    });
    const { topics } = settings;
    this.handlers = new Map<string, BatchHandler>([
      [topics.valuationRequired, valuations],
      [topics.marketPricePersisted, marketData],
      [topics.fxRatePersisted, marketData],
    ]);
  }

  async onApplicationBootstrap(): Promise<void> {
    // kafkajs restarts the consumer after a retriable crash; after any other it stops consuming for
    // good while the process and its health checks carry on, and its partitions stall unnoticed.
    // Exit instead: the orchestrator restarts the calculator, and the group hands its partitions on.
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) return;
      this.logger.fatal(`consumer stopped for good (${payload.error.message}): exiting to be restarted`);
      process.exit(1);
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) =>
      this.progress.assigned(payload.memberAssignment),
    );
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.handlers.keys()], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 3,
      eachBatch: (payload) => this.consumeBatch(payload),
    });
    this.logger.log(
      `consuming ${[...this.handlers.keys()].join(', ')} as group ${this.settings.consumerGroup}`,
    );
  }

  private async consumeBatch(payload: EachBatchPayload) {
    const { batch } = payload;
    const handler = this.handlers.get(batch.topic);
    if (!handler) throw new Error(`no handler for topic ${batch.topic}`);
    for (let i = 0; i < batch.messages.length && payload.isRunning() && !payload.isStale(); i += CHUNK_SIZE) {
      const messages = batch.messages.slice(i, i + CHUNK_SIZE);
      this.progress.started(batch.topic, batch.partition);
      await handler.handle({ topic: batch.topic, partition: batch.partition, messages });
      const last = messages[messages.length - 1].offset;
      payload.resolveOffset(last);
      // Through the batch payload, not consumer.commitOffsets: once SIGTERM has stopped the consumer,
      // kafkajs turns consumer.commitOffsets into a silent no-op, and the chunk finished during
      // shutdown would be delivered again to the next owner of the partition.
      await payload.commitOffsetsIfNecessary({
        topics: [
          {
            topic: batch.topic,
            partitions: [{ partition: batch.partition, offset: (BigInt(last) + 1n).toString() }],
          },
        ],
      });
      this.progress.advanced(batch.topic, batch.partition);
      this.outbox.wake();
      await payload.heartbeat();
    }
  }

  /** SIGTERM: finish the chunk in flight, commit it, leave the group; then the outbox drains. */
  async beforeApplicationShutdown(): Promise<void> {
    try {
      await this.consumer.disconnect();
      this.logger.log('left the consumer group');
    } finally {
      await this.outbox.drainAndStop();
    }
  }
}
