import { randomUUID } from 'node:crypto';
import {
  Kafka,
  KafkaJSConnectionError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  logLevel,
} from 'kafkajs';
import { IdempotentPublisher } from './event-publisher';

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
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
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
