import { Admin, Kafka } from 'kafkajs';
import type { KafkaSettings } from '@app/config';

const LEADERS_TIMEOUT_MS = 30000;

/** True when every error of a failed CreateTopics is "already exists": another process won the race. */
function createdElsewhere(error: unknown): boolean {
  const errors = (error as { errors?: { type?: string }[] }).errors;
  return Array.isArray(errors) && errors.length > 0 && errors.every((e) => e.type === 'TOPIC_ALREADY_EXISTS');
}

/** Waits until every partition of `topics` has a leader, so subscribing and producing work at once. */
async function waitForLeaders(admin: Admin, topics: string[]): Promise<void> {
  const deadline = Date.now() + LEADERS_TIMEOUT_MS;
  for (;;) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics });
      if (found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline)
      throw new Error(`topics ${topics.join(', ')} have no leaders after ${LEADERS_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Creates the topics of contract §6 that do not exist yet, with the configured partition count, and
 * returns once all of them have leaders. Both processes call it at startup, possibly at the same
 * moment: a create that loses the race to another process counts as done.
 */
export async function ensureTopics(
  kafka: Kafka,
  settings: Pick<KafkaSettings, 'topics' | 'topicPartitions'>,
): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const wanted = Object.values(settings.topics);
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await admin
        .createTopics({
          waitForLeaders: false, // waited for below, tolerating the metadata errors of a broker just started
          topics: missing.map((topic) => ({
            topic,
            numPartitions: settings.topicPartitions,
            replicationFactor: 1,
          })),
        })
        .catch((error: unknown) => {
          if (!createdElsewhere(error)) throw error;
        });
    }
    await waitForLeaders(admin, wanted);
    return missing;
  } finally {
    await admin.disconnect();
  }
}
