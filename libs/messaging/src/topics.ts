import { Admin, Kafka } from 'kafkajs';
import type { KafkaSettings } from '@app/config';

const LEADERS_TIMEOUT_MS = 30000;

/** `min.insync.replicas` of the topics the processes create (contract §10): min(2, replication factor). */
export function minInsyncReplicas(replicationFactor: number): number {
  return Math.min(2, replicationFactor);
}

/**
 * The topics a failed CreateTopics found existing (another process won the race, or the broker asked
 * had not heard of them yet); null when it failed for any other reason.
 */
function createdElsewhere(error: unknown): Set<string> | null {
  const errors = (error as { errors?: { type?: string; topic?: string }[] }).errors;
  if (!Array.isArray(errors) || errors.length === 0) return null;
  if (!errors.every((e) => e.type === 'TOPIC_ALREADY_EXISTS')) return null;
  return new Set(errors.map((e) => e.topic ?? ''));
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

/** The broker's reason when a CreateTopics failed for a replication factor the cluster cannot hold. */
function replicationRefused(error: unknown): string | undefined {
  const errors = (error as { errors?: { type?: string; message?: string }[] }).errors;
  const refused = Array.isArray(errors)
    ? errors.find((e) => e.type === 'INVALID_REPLICATION_FACTOR')
    : undefined;
  return refused ? (refused.message ?? refused.type) : undefined;
}

/**
 * Creates the topics of contract §6 that do not exist yet, with the configured partition count and
 * replication factor, and `min.insync.replicas` = min(2, replication factor): with 3 replicas a write
 * acknowledged by all in-sync replicas (every producer sends with acks=all) is on at least two
 * brokers, and one broker may be lost without losing it or stopping writes. Returns once all of them
 * have leaders, with the topics it created. Both processes call it at startup, possibly at the same
 * moment: a create that loses the race to another process counts as done. Topics that exist already
 * are left as they are.
 */
export async function ensureTopics(
  kafka: Kafka,
  settings: Pick<KafkaSettings, 'topics' | 'topicPartitions' | 'topicReplicationFactor'>,
): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const wanted = Object.values(settings.topics);
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t));
    let created = missing;
    if (missing.length > 0) {
      await admin
        .createTopics({
          waitForLeaders: false, // waited for below, tolerating the metadata errors of a broker just started
          topics: missing.map((topic) => ({
            topic,
            numPartitions: settings.topicPartitions,
            replicationFactor: settings.topicReplicationFactor,
            configEntries: [
              {
                name: 'min.insync.replicas',
                value: String(minInsyncReplicas(settings.topicReplicationFactor)),
              },
            ],
          })),
        })
        .catch((error: unknown) => {
          const elsewhere = createdElsewhere(error);
          if (elsewhere) {
            created = missing.filter((t) => !elsewhere.has(t));
            return;
          }
          const refused = replicationRefused(error);
          if (refused)
            throw new Error(
              `cannot create ${missing.join(', ')} with KAFKA_TOPIC_REPLICATION_FACTOR=${settings.topicReplicationFactor}: ${refused}`,
              { cause: error },
            );
          throw error;
        });
    }
    await waitForLeaders(admin, wanted);
    return created;
  } finally {
    await admin.disconnect();
  }
}
