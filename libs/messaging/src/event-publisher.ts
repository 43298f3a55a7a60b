import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Kafka, Partitioners, Producer, ProducerConfig } from 'kafkajs';
import { KAFKA_CLIENT } from './messaging.tokens';

export interface OutgoingMessage {
  key: string | null;
  value: string;
}

/** What a send needs; `EventPublisher` and `IdempotentPublisher` both provide it. */
export interface MessageSender {
  publish(topic: string, messages: OutgoingMessage[]): Promise<void>;
}

/**
 * acks=all: the leader answers only once every in-sync replica has the messages, and refuses them
 * (NOT_ENOUGH_REPLICAS) while fewer than the topic's min.insync.replicas are in sync (contract §10).
 * Every producer of the processes sends through `EventPublisher.publish`: the scheduler's dispatch and
 * the calculator's dead letters on this class, the outbox relay on `IdempotentPublisher` (which
 * kafkajs allows only with acks=all anyway).
 */
export const ACKS_ALL = -1;

const BASE: ProducerConfig = {
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  createPartitioner: Partitioners.DefaultPartitioner,
};

/**
 * The process's shared producer. With acks=all (`ACKS_ALL`) a send resolves only once every in-sync
 * replica has the messages, so callers may commit what depends on them afterwards. A retried send may duplicate a
 * message; the consumers of what it sends are idempotent (dispatch claims, dead letters keyed by
 * origin), so a bounded retry that fails fast beats the idempotent producer's unbounded one.
 */
@Injectable()
export class EventPublisher implements MessageSender, OnModuleInit, OnApplicationShutdown {
  protected producer: Producer;

  constructor(@Inject(KAFKA_CLIENT) protected readonly kafka: Kafka) {
    this.producer = this.createProducer();
  }

  protected createProducer(): Producer {
    return this.kafka.producer(BASE);
  }

  async onModuleInit(): Promise<void> {
    await this.producer.connect();
  }

  async publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.producer.send({ topic, acks: ACKS_ALL, messages });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producer.disconnect();
  }
}

/** Broker answers meaning it no longer knows this producer's id or sequence: only a new id helps. */
const LOST_PRODUCER_STATE = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
]);

/**
 * A producer whose sends the broker deduplicates: each message batch carries the producer's id and a
 * per-partition sequence, and a batch the broker already appended is acknowledged, not appended
 * again. That covers kafkajs's own retries (a produce request that failed for one partition is sent
 * again for all of them), and a caller that sends the very same messages again after a failed send
 * (kafkajs rolls the sequences back on failure). Retries stay bounded so that a caller is not held
 * for the whole of an outage: it then re-sends the same messages, in the same order.
 *
 * Should the broker lose this producer's state (it forgets idle producer ids after a day) or the
 * caller send something else after a failure, the broker refuses the sequence: `replaceProducer` then starts
 * over with a new producer id, and only a batch the broker had appended under the old one can be
 * appended a second time.
 */
@Injectable()
export class IdempotentPublisher extends EventPublisher {
  private readonly logger = new Logger(IdempotentPublisher.name);
  private connectFirst = false;

  protected override createProducer(): Producer {
    // kafkajs warns that bounded retries "may invalidate" the guarantee: not for a caller that
    // re-sends the same batch after a failure, which is the contract of this class.
    return this.kafka.producer({ ...BASE, idempotent: true, retry: { retries: 5 } });
  }

  /** Whether `error` (or what it wraps) says the broker lost this producer's state. */
  static lostProducerState(error: unknown): boolean {
    for (let e: unknown = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++)
      if (LOST_PRODUCER_STATE.has((e as { type?: string }).type ?? '')) return true;
    return false;
  }

  override async publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (this.connectFirst) {
      await this.producer.connect();
      this.connectFirst = false;
    }
    await super.publish(topic, messages);
  }

  /**
   * Replaces the producer with one under a new producer id. It connects on the next publish, so a
   * broker that is down now costs that publish, not the producer.
   */
  async replaceProducer(): Promise<void> {
    const old = this.producer;
    this.producer = this.createProducer();
    this.connectFirst = true;
    await old.disconnect().catch(() => undefined);
    this.logger.warn('started over with a new producer id');
  }
}
