import { randomUUID } from 'node:crypto';

/**
 * Topic and group names unique to one spec file, so specs running in parallel on the one broker never
 * read each other's messages. Returned as the environment variables the apps read.
 */
export function isolatedKafkaEnv(prefix: string): Record<string, string> {
  const run = `${prefix}-${randomUUID().slice(0, 8)}`;
  return {
    KAFKA_TOPIC_VALUATION_REQUIRED: `${run}.valuation_required`,
    KAFKA_TOPIC_MARKET_PRICE_PERSISTED: `${run}.market_price_persisted`,
    KAFKA_TOPIC_FX_RATE_PERSISTED: `${run}.fx_rate_persisted`,
    KAFKA_TOPIC_SNAPSHOT_PERSISTED: `${run}.snapshot_persisted`,
    KAFKA_TOPIC_DLQ: `${run}.dlq`,
    KAFKA_CONSUMER_GROUP: `${run}.calculator`,
    KAFKA_TOPIC_PARTITIONS: '2',
  };
}
