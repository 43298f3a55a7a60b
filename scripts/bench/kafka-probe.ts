import type { Kafka } from 'kafkajs';
import { sleep } from './bench-context';

/**
 * The earliest message timestamp (producer CreateTime, ms) on `topic`: when the scheduler published
 * its first `valuation_required` batch. Read after the measurement, so it costs the pipeline nothing.
 */
export async function firstMessageAt(kafka: Kafka, topic: string): Promise<number | null> {
  const admin = kafka.admin();
  await admin.connect();
  let partitions: number[];
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    partitions = offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => o.partition);
  } finally {
    await admin.disconnect();
  }
  if (partitions.length === 0) return null;
  const consumer = kafka.consumer({ groupId: `${topic}.bench-probe`, maxWaitTimeInMs: 200 });
  const first = new Map<number, number>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (!first.has(batch.partition) && batch.messages.length > 0)
          first.set(batch.partition, Number(batch.messages[0].timestamp));
      },
    });
    const deadline = Date.now() + 30000;
    while (first.size < partitions.length && Date.now() < deadline) await sleep(50);
  } finally {
    await consumer.disconnect();
  }
  return first.size ? Math.min(...first.values()) : null;
}

/** Publishes JSON messages as an upstream service does. */
export async function publish(
  kafka: Kafka,
  topic: string,
  messages: { key: string; value: unknown }[],
): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: messages.map((m) => ({ key: m.key, value: JSON.stringify(m.value) })),
    });
  } finally {
    await producer.disconnect();
  }
}
