import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Kafka, Partitioners, Producer, ProducerConfig, type PartitionMetadata } from 'kafkajs';
import { KAFKA_CLIENT } from './messaging.tokens';

export interface OutgoingMessage {
  key: string | null;
  value: string;
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

/** kafkajs's default (murmur2) choice for a keyed message, so a key lands where kafkajs would put it. */
const byKey = Partitioners.DefaultPartitioner();

/**
 * The process's shared producer. With acks=all (`ACKS_ALL`) a send resolves only once every in-sync
 * replica has the messages, so callers may commit what depends on them afterwards. A retried send may duplicate a
 * message; the consumers of what it sends are idempotent (dispatch claims, dead letters keyed by
 * origin), so a bounded retry that fails fast beats the idempotent producer's unbounded one.
 *
 * Each partition's messages go in a send of their own. A kafkajs send that spans several brokers
 * keeps the answer of each broker across its retries, keyed by broker: when a partition's leader dies
 * and the partition moves to a broker that had already answered for its other partitions, the retry
 * skips it and the send resolves without ever writing that partition's messages (and a broker object
 * replaced in between gets its partitions written twice). A send to one partition, so one leader, has
 * no such partial state: it fails or succeeds as a whole, and its retry goes to the new leader.
 * Found by the fault scenario that kills a partition leader of a three-node cluster.
 */
@Injectable()
export class EventPublisher implements OnModuleInit, OnApplicationShutdown {
  protected producer: Producer;
  private readonly partitionCounts = new Map<string, number>();

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
    await this.sendByPartition(topic, messages, new Set());
  }

  /**
   * Sends the messages of each partition not in `acked` side by side, one send per partition, and
   * adds each partition the broker acknowledged to `acked`; throws the first failure once all have
   * answered. The same messages always map to the same partitions (by key; by position without one).
   */
  protected async sendByPartition(
    topic: string,
    messages: OutgoingMessage[],
    acked: Set<number>,
  ): Promise<void> {
    if (messages.length === 0) return;
    const groups = await this.partitioned(topic, messages);
    const results = await Promise.allSettled(
      [...groups]
        .filter(([partition]) => !acked.has(partition))
        .map(async ([partition, list]) => {
          await this.producer.send({
            topic,
            acks: ACKS_ALL,
            messages: list.map((m) => ({ ...m, partition })),
          });
          acked.add(partition);
        }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      this.partitionCounts.delete(topic); // looked up again: the topic may have grown
      throw failed.reason;
    }
  }

  private async partitioned(
    topic: string,
    messages: OutgoingMessage[],
  ): Promise<Map<number, OutgoingMessage[]>> {
    const count = await this.partitionCount(topic);
    const metadata: PartitionMetadata[] = Array.from({ length: count }, (_, partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 0,
      replicas: [],
      isr: [],
    }));
    const groups = new Map<number, OutgoingMessage[]>();
    messages.forEach((message, i) => {
      const partition =
        message.key === null ? i % count : byKey({ topic, partitionMetadata: metadata, message });
      groups.set(partition, [...(groups.get(partition) ?? []), message]);
    });
    return groups;
  }

  private async partitionCount(topic: string): Promise<number> {
    const known = this.partitionCounts.get(topic);
    if (known !== undefined) return known;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const [found] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      if (!found || found.partitions.length === 0) throw new Error(`topic ${topic} has no partitions`);
      this.partitionCounts.set(topic, found.partitions.length);
      return found.partitions.length;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
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
 * again, also by a new leader (the sequences are replicated with the messages). That covers kafkajs's
 * own retries, and a caller that sends the very same messages again after a failed send: the
 * partitions the broker acknowledged then are not sent again (their sequences have moved on, so the
 * broker could not tell them from new messages), and the others go with the sequences they had
 * (kafkajs rolls a failed send's sequences back). Retries stay bounded so that a caller is not held
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
  /** The last publish that failed (a digest of topic and messages), and its acknowledged partitions. */
  private partlySent: { digest: string; acked: Set<number> } | null = null;

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
    const digest = createHash('sha256')
      .update(JSON.stringify([topic, messages]))
      .digest('hex');
    const acked = this.partlySent?.digest === digest ? this.partlySent.acked : new Set<number>();
    try {
      await this.sendByPartition(topic, messages, acked);
      this.partlySent = null;
    } catch (error) {
      this.partlySent = { digest, acked };
      throw error;
    }
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
