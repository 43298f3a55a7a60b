import { Inject, Injectable, Logger } from '@nestjs/common';
import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import { lastValueFrom } from 'rxjs';
import type { KafkaSettings, TopicRole } from '@app/config';
import { KAFKA_CLIENT, KAFKA_SETTINGS } from '@app/messaging';
import { OutboxRelay } from '../outbox/outbox.relay';
import { PartitionProgress } from './partition-progress';
import type { IncomingChunk } from './incoming-chunk';

/** Messages handed to a handler at once, in one transaction: enough to amortise round trips, few enough for latency. */
export const CHUNK_SIZE = 500;

/**
 * The calculator's inputs: the `@EventPattern` of each (the topic's name in the contract) and the
 * configuration entry naming the topic it is read from.
 */
export const CALCULATOR_INPUTS = {
  valuation_required: 'valuationRequired',
  market_price_persisted: 'marketPricePersisted',
  fx_rate_persisted: 'fxRatePersisted',
} as const satisfies Record<string, TopicRole>;
export type CalculatorInput = keyof typeof CALCULATOR_INPUTS;

/**
 * The calculator's Kafka edge as a Nest transport. Nest's own Kafka transport hands over one message
 * at a time and commits on its own; valuation needs chunks applied in one transaction and offsets
 * committed only after that transaction. So this transport owns the kafkajs consumer (the three input
 * topics, one group) and gives each chunk of a partition to the `@EventPattern` handler of its topic.
 * A handler settles every message of its chunk (the job table, or the DLQ) and throws only when the
 * infrastructure failed: then nothing is committed and kafkajs delivers the chunk again.
 */
@Injectable()
export class KafkaBatchTransport extends Server implements CustomTransportStrategy {
  protected override readonly logger = new Logger(KafkaBatchTransport.name);
  private readonly consumer: Consumer;
  /** Configured topic → the pattern of its handler. */
  private readonly patterns: Map<string, CalculatorInput>;

  constructor(
    @Inject(KAFKA_CLIENT) kafka: Kafka,
    @Inject(KAFKA_SETTINGS) private readonly settings: KafkaSettings,
    private readonly outbox: OutboxRelay,
    private readonly progress: PartitionProgress,
  ) {
    super();
    this.consumer = kafka.consumer({
      groupId: settings.consumerGroup,
      sessionTimeout: 30000,
      heartbeatInterval: 3000,
      maxBytesPerPartition: 2 * 1024 * 1024,
      // An idle fetch returns after this long; shutdown waits for the fetch in flight, so keep it short.
      maxWaitTimeInMs: 1000,
      retry: { retries: 10, initialRetryTime: 500, maxRetryTime: 10000 },
    });
    this.patterns = new Map(
      Object.entries(CALCULATOR_INPUTS).map(([pattern, role]) => [
        settings.topics[role],
        pattern as CalculatorInput,
      ]),
    );
  }

  /** Joins the group and starts consuming; refuses to start when an input has no handler. */
  listen(callback: (error?: unknown) => void): void {
    this.start().then(() => callback(), callback);
  }

  private async start(): Promise<void> {
    const unhandled = [...this.patterns.values()].filter((p) => !this.getHandlerByPattern(p));
    if (unhandled.length > 0) throw new Error(`no @EventPattern handler for ${unhandled.join(', ')}`);
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
    const topics = [...this.patterns.keys()];
    await this.consumer.connect();
    await this.consumer.subscribe({ topics, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 3,
      eachBatch: (payload) => this.consumeBatch(payload),
    });
    this.logger.log(`consuming ${topics.join(', ')} as group ${this.settings.consumerGroup}`);
  }

  private async consumeBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const pattern = this.patterns.get(batch.topic);
    const handler = pattern && this.getHandlerByPattern(pattern);
    if (!handler) throw new Error(`no handler for topic ${batch.topic}`);
    for (let i = 0; i < batch.messages.length && payload.isRunning() && !payload.isStale(); i += CHUNK_SIZE) {
      const chunk: IncomingChunk = {
        topic: batch.topic,
        partition: batch.partition,
        messages: batch.messages.slice(i, i + CHUNK_SIZE),
      };
      this.progress.started(chunk.topic, chunk.partition);
      // The handler's result as Nest returns it (a value, a promise or an observable); its failure
      // rejects here, so the offsets below are not committed.
      await lastValueFrom(this.transformToObservable(await handler(chunk)), { defaultValue: undefined });
      const last = chunk.messages[chunk.messages.length - 1].offset;
      payload.resolveOffset(last);
      // Through the batch payload, not consumer.commitOffsets: once SIGTERM has stopped the consumer,
      // kafkajs turns consumer.commitOffsets into a silent no-op, and the chunk finished during
      // shutdown would be delivered again to the next owner of the partition.
      await payload.commitOffsetsIfNecessary({
        topics: [
          {
            topic: chunk.topic,
            partitions: [{ partition: chunk.partition, offset: (BigInt(last) + 1n).toString() }],
          },
        ],
      });
      this.progress.advanced(chunk.topic, chunk.partition);
      this.outbox.wake();
      await payload.heartbeat();
    }
  }

  /**
   * SIGTERM (Nest closes its transports after the HTTP server, before any shutdown hook): finish the
   * chunk in flight, commit it and leave the group; then the outbox publishes what is left.
   */
  async close(): Promise<void> {
    try {
      await this.consumer.disconnect();
      this.logger.log('left the consumer group');
    } finally {
      await this.outbox.drainAndStop();
    }
  }

  /** The consumer's own events are reached through `unwrap()`; this transport emits none of its own. */
  on(): never {
    throw new Error('KafkaBatchTransport has no events of its own: use unwrap() for the consumer');
  }

  unwrap<T>(): T {
    return this.consumer as T;
  }
}
