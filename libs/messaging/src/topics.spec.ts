import { randomUUID } from 'node:crypto';
import { ConfigResourceTypes, ConfigSource, Kafka, logLevel, type Admin } from 'kafkajs';
import type { KafkaTopics } from '@app/config';
import { ensureTopics, minInsyncReplicas } from './topics';

/**
 * On a cluster, a broker learns of a topic just created a moment after the controller: until then it
 * answers UNKNOWN_TOPIC_OR_PARTITION. Retries `ask` through that moment.
 */
async function once<T>(ask: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ask();
    } catch (error) {
      if (attempt >= 50 || (error as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** What the broker says about a topic: partitions, replicas of each, and its min.insync.replicas. */
async function layout(admin: Admin, topic: string) {
  const [metadata] = (await once(() => admin.fetchTopicMetadata({ topics: [topic] }))).topics;
  const { resources } = await once(() =>
    admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['min.insync.replicas'] }],
    }),
  );
  const minInsync = resources[0].configEntries.find((e) => e.configName === 'min.insync.replicas');
  return {
    partitions: metadata.partitions.length,
    replicas: [...new Set(metadata.partitions.map((p) => p.replicas.length))],
    minInsyncReplicas: minInsync?.configValue,
    // Set on the topic itself, not inherited from the broker's default.
    minInsyncIsTopicConfig: minInsync?.configSource === ConfigSource.TOPIC_CONFIG,
  };
}

function topicsOf(prefix: string): KafkaTopics {
  return {
    valuationRequired: `${prefix}.valuation_required`,
    marketPricePersisted: `${prefix}.market_price_persisted`,
    fxRatePersisted: `${prefix}.fx_rate_persisted`,
    snapshotPersisted: `${prefix}.daily_position_snapshot_persisted`,
    dlq: `${prefix}.dlq`,
  };
}

describe('minInsyncReplicas', () => {
  it('is min(2, replication factor)', () => {
    expect([1, 2, 3, 5].map(minInsyncReplicas)).toEqual([1, 2, 2, 2]);
  });
});

/**
 * Against the real broker at KAFKA_BROKERS (the single local broker in `npm test`, RF 1; pointed at
 * the three-node cluster it checks RF 3 too). The fault scenario "broker loss in a three-node cluster"
 * checks the topics the processes create there: RF 3, min.insync.replicas 2.
 */
describe('ensureTopics against the real broker', () => {
  const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const kafka = new Kafka({ clientId: 'spec-topics', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const created: string[] = [];
  let brokerCount = 0;

  beforeAll(async () => {
    await admin.connect();
    brokerCount = (await admin.describeCluster()).brokers.length;
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics: created }).catch(() => undefined);
    await admin.disconnect();
  });

  async function ensure(replicationFactor: number, partitions = 3) {
    const topics = topicsOf(`spec-topics-${randomUUID().slice(0, 8)}`);
    created.push(...Object.values(topics));
    const made = await ensureTopics(kafka, {
      topics,
      topicPartitions: partitions,
      topicReplicationFactor: replicationFactor,
    });
    return { topics, made };
  }

  it('creates every topic with the partitions, replication factor 1 and min.insync.replicas 1', async () => {
    const { topics, made } = await ensure(1);
    expect(made.sort()).toEqual(Object.values(topics).sort());
    for (const topic of Object.values(topics))
      expect({ topic, ...(await layout(admin, topic)) }).toEqual({
        topic,
        partitions: 3,
        replicas: [1],
        minInsyncReplicas: '1',
        minInsyncIsTopicConfig: true,
      });
  });

  it('creates with as many replicas as the cluster has brokers and min.insync.replicas = min(2, that)', async () => {
    const { topics } = await ensure(brokerCount, 2);
    expect(await layout(admin, topics.valuationRequired)).toEqual({
      partitions: 2,
      replicas: [brokerCount],
      minInsyncReplicas: String(Math.min(2, brokerCount)),
      minInsyncIsTopicConfig: true,
    });
  });

  it('creates only what is missing, and leaves existing topics as they are', async () => {
    const topics = topicsOf(`spec-topics-${randomUUID().slice(0, 8)}`);
    created.push(...Object.values(topics));
    await admin.createTopics({
      waitForLeaders: false, // kafkajs's wait fails on a broker that has not heard of the topic yet
      topics: [{ topic: topics.valuationRequired, numPartitions: 3, replicationFactor: 1 }],
    });
    await layout(admin, topics.valuationRequired); // known to the brokers
    const made = await ensureTopics(kafka, { topics, topicPartitions: 4, topicReplicationFactor: 1 });
    expect(made.sort()).toEqual(
      Object.values(topics)
        .filter((t) => t !== topics.valuationRequired)
        .sort(),
    );
    expect((await layout(admin, topics.dlq)).partitions).toBe(4);
    expect(await layout(admin, topics.valuationRequired)).toEqual({
      partitions: 3,
      replicas: [1],
      minInsyncReplicas: String(brokerCount > 1 ? 2 : 1), // the broker's default: not set on the topic
      minInsyncIsTopicConfig: false,
    });
    expect(await ensureTopics(kafka, { topics, topicPartitions: 4, topicReplicationFactor: 1 })).toEqual([]);
  });

  it('refuses a replication factor beyond the brokers of the cluster, naming the setting', async () => {
    const topics = topicsOf(`spec-topics-${randomUUID().slice(0, 8)}`);
    created.push(...Object.values(topics));
    await expect(
      ensureTopics(kafka, { topics, topicPartitions: 1, topicReplicationFactor: brokerCount + 1 }),
    ).rejects.toThrow(`KAFKA_TOPIC_REPLICATION_FACTOR=${brokerCount + 1}`);
    const wanted = new Set(Object.values(topics));
    expect((await admin.listTopics()).filter((t) => wanted.has(t))).toEqual([]);
  });
});
