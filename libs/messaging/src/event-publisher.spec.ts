import { randomUUID } from 'node:crypto';
import {
  Kafka,
  KafkaJSConnectionError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  logLevel,
  Partitioners,
  type Admin,
  type Producer,
} from 'kafkajs';
import { EventPublisher, IdempotentPublisher, type OutgoingMessage } from './event-publisher';

/**
 * Creates a topic and waits until the broker serves it. kafkajs's own wait (waitForLeaders) gives up
 * when the broker answers UNKNOWN_TOPIC_OR_PARTITION, as a KRaft broker may for a moment after the
 * controller created the topic (seen with specs creating topics side by side).
 */
async function createTopic(admin: Admin, topic: string, numPartitions: number): Promise<void> {
  await admin.createTopics({ topics: [{ topic, numPartitions }], waitForLeaders: false });
  for (let attempt = 1; ; attempt++) {
    try {
      const [found] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      if (found.partitions.length === numPartitions && found.partitions.every((p) => p.leader >= 0)) return;
    } catch (error) {
      if (attempt >= 100) throw error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

const protocolError = (type: string) =>
  new KafkaJSProtocolError({ message: type, type, code: 0, retriable: false } as unknown as Error);

describe('IdempotentPublisher', () => {
  it('tells a broker that lost the producer state from other failures, also when kafkajs wraps it', () => {
    const outOfOrder = protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER');
    expect(IdempotentPublisher.lostProducerState(outOfOrder)).toBe(true);
    expect(IdempotentPublisher.lostProducerState(protocolError('UNKNOWN_PRODUCER_ID'))).toBe(true);
    const exhausted = new KafkaJSNumberOfRetriesExceeded(outOfOrder, { retryCount: 5, retryTime: 100 });
    expect(IdempotentPublisher.lostProducerState(exhausted)).toBe(true);

    const refused = new KafkaJSConnectionError('connect ECONNREFUSED 127.0.0.1:9092');
    expect(IdempotentPublisher.lostProducerState(refused)).toBe(false);
    expect(
      IdempotentPublisher.lostProducerState(
        new KafkaJSNumberOfRetriesExceeded(protocolError('NOT_LEADER_FOR_PARTITION'), {
          retryCount: 5,
          retryTime: 100,
        }),
      ),
    ).toBe(false);
    expect(IdempotentPublisher.lostProducerState('not an error')).toBe(false);
  });

  describe('against the real broker', () => {
    const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
    const kafka = new Kafka({ clientId: 'spec-idempotent', brokers, logLevel: logLevel.NOTHING });
    const topic = `spec-idempotent-${randomUUID().slice(0, 8)}`;
    const admin = kafka.admin();
    const publisher = new IdempotentPublisher(kafka);

    beforeAll(async () => {
      await admin.connect();
      await createTopic(admin, topic, 2);
      await publisher.onModuleInit();
    });
    afterAll(async () => {
      await publisher.onApplicationShutdown();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    });

    const onTopic = async () =>
      (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);

    it('publishes, and after replacing its producer publishes again under the new one', async () => {
      const batch = (n: number) => [
        { key: 'P1', value: `{"n":${n}}` },
        { key: 'P2', value: `{"n":${n + 1}}` },
      ];
      await publisher.publish(topic, batch(1));
      expect(await onTopic()).toBe(2);

      await publisher.replaceProducer();
      await publisher.publish(topic, batch(3));
      expect(await onTopic()).toBe(4);
    });
  });
});

/** Fails the send of one partition once, before anything reaches the broker (a leader lost mid-send). */
class FlakyPartitionPublisher extends IdempotentPublisher {
  failOnce: number | null = null;

  protected override createProducer(): Producer {
    const producer = super.createProducer();
    const send = producer.send.bind(producer);
    producer.send = async (record) => {
      if (this.failOnce !== null && record.messages.some((m) => m.partition === this.failOnce)) {
        this.failOnce = null;
        throw new KafkaJSConnectionError('connect ECONNREFUSED (injected)');
      }
      return send(record);
    };
    return producer;
  }
}

describe('publishing by partition, against the real broker', () => {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const kafka = new Kafka({ clientId: 'spec-by-partition', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const topics: string[] = [];

  beforeAll(() => admin.connect());
  afterAll(async () => {
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });

  async function newTopic(partitions: number): Promise<string> {
    const topic = `spec-by-partition-${randomUUID().slice(0, 8)}`;
    topics.push(topic);
    await createTopic(admin, topic, partitions);
    return topic;
  }

  const perPartition = async (topic: string) =>
    Object.fromEntries(
      (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high) - Number(p.low)]),
    );

  const batch: OutgoingMessage[] = Array.from({ length: 40 }, (_, i) => ({
    key: `PF${i % 13}`,
    value: `{"n":${i}}`,
  }));

  it('puts each keyed message where kafkajs would, and unkeyed ones by position', async () => {
    const topic = await newTopic(4);
    const publisher = new EventPublisher(kafka);
    await publisher.onModuleInit();
    try {
      await publisher.publish(topic, [...batch, { key: null, value: 'a' }, { key: null, value: 'b' }]);
    } finally {
      await publisher.onApplicationShutdown();
    }
    const kafkajs = Partitioners.DefaultPartitioner();
    const partitionMetadata = [0, 1, 2, 3].map((partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [],
      isr: [],
    }));
    const expected: Record<number, number> = { 0: 0, 1: 0, 2: 0, 3: 0 };
    for (const message of batch) expected[kafkajs({ topic, partitionMetadata, message })]++;
    expected[batch.length % 4]++;
    expected[(batch.length + 1) % 4]++;
    expect(await perPartition(topic)).toEqual(expected);
  });

  it('re-sends a failed batch without the partitions the broker acknowledged: each message once', async () => {
    const topic = await newTopic(3);
    const publisher = new FlakyPartitionPublisher(kafka);
    await publisher.onModuleInit();
    try {
      publisher.failOnce = 1;
      await expect(publisher.publish(topic, batch)).rejects.toThrow('injected');
      const first = await perPartition(topic);
      expect(first[1]).toBe(0);
      expect(first[0] + first[2]).toBeGreaterThan(0);

      await publisher.publish(topic, batch);
      const counts = await perPartition(topic);
      expect(counts[0] + counts[1] + counts[2]).toBe(batch.length);
      expect([counts[0], counts[2]]).toEqual([first[0], first[2]]);

      // Another batch is sent whole.
      await publisher.publish(topic, batch.slice(0, 5));
      const after = await perPartition(topic);
      expect(after[0] + after[1] + after[2]).toBe(batch.length + 5);
    } finally {
      await publisher.onApplicationShutdown();
    }
  });
});
