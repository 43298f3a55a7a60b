import { Kafka } from 'kafkajs';
import type { KafkaSettings } from '@app/config';

/**
 * Creates the topics of contract §6 that do not exist yet, with the configured partition count.
 * Called at startup by both processes; concurrent callers are fine (the broker rejects the loser's
 * create, which counts as "already there").
 */
export async function ensureTopics(
  kafka: Kafka,
  settings: Pick<KafkaSettings, 'topics' | 'topicPartitions'>,
): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = Object.values(settings.topics).filter((t) => !existing.has(t));
    if (missing.length === 0) return [];
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: settings.topicPartitions,
        replicationFactor: 1,
      })),
    });
    return missing;
  } finally {
    await admin.disconnect();
  }
}
