import { randomUUID } from 'node:crypto';
import { AssignerProtocol, Kafka, logLevel, type Admin, type KafkaMessage, type Producer } from 'kafkajs';
import { parseValuationRequired } from '@app/messaging';

/** Test input: a partition may be given explicitly (to know where each message lands). */
export interface OutgoingTestMessage {
  key: string | null;
  value: string | Buffer | null;
  partition?: number;
}

/** A message read back, with the partition it was read from. */
export type TopicMessage = KafkaMessage & { partition: number };

/** A `valuation_required` the scheduler sent, parsed by its contract: it always names its job and claim. */
export function dispatchedMessage(value: Buffer | null): { job_id: string; claim_token: string } {
  const { job_id, claim_token } = parseValuationRequired(value);
  if (job_id === undefined || claim_token === undefined)
    throw new Error(`a dispatched valuation_required without its job or claim: ${String(value)}`);
  return { job_id, claim_token };
}

/**
 * The suite's own Kafka client: it reads what the processes published and produces test input. It
 * is deliberately not a long-lived subscriber: topics are read from the beginning up to their end
 * offsets when asked, so a broker restart in the middle of a scenario cannot make it miss anything.
 */
export class FaultKafka {
  readonly kafka: Kafka;
  private admin: Admin | null = null;
  private producer: Producer | null = null;

  constructor(brokers: string[]) {
    this.kafka = new Kafka({
      clientId: `fault-suite-${process.pid}`,
      brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 3000 },
    });
  }

  private async connectedAdmin(): Promise<Admin> {
    if (!this.admin) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
    }
    return this.admin;
  }

  /** Every message of `topic` from offset 0 up to the end offsets seen when called. */
  async readTopic(topic: string, timeoutMs = 30000): Promise<TopicMessage[]> {
    const admin = await this.connectedAdmin();
    const ends = await admin.fetchTopicOffsets(topic);
    const pending = new Map(
      ends.filter((p) => BigInt(p.high) > 0n).map((p) => [p.partition, BigInt(p.high)]),
    );
    const seen: TopicMessage[] = [];
    if (pending.size === 0) return seen;
    const consumer = this.kafka.consumer({ groupId: `fault-reader-${randomUUID()}`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`reading ${topic} timed out with ${pending.size} partitions left`)),
          timeoutMs,
        );
        void consumer.run({
          eachBatch: async ({ batch }) => {
            const end = pending.get(batch.partition);
            if (end === undefined) return;
            for (const m of batch.messages)
              if (BigInt(m.offset) < end) seen.push({ ...m, partition: batch.partition });
            if (BigInt(batch.lastOffset()) + 1n >= end) pending.delete(batch.partition);
            if (pending.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }
    return seen;
  }

  /** The end offset of each partition of `topic` now: what is read later beyond it came after. */
  async endOffsets(topic: string): Promise<Map<number, bigint>> {
    const admin = await this.connectedAdmin();
    return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  }

  async send(topic: string, messages: OutgoingTestMessage[]): Promise<void> {
    await this.sendReturningOffsets(topic, messages);
  }

  /** Sends and returns the base offset the broker gave each partition's messages. */
  async sendReturningOffsets(topic: string, messages: OutgoingTestMessage[]): Promise<Map<number, bigint>> {
    if (!this.producer) {
      // Few retries: a message the broker refuses (too large) must fail here, not hang.
      const producer = this.kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 2 } });
      await producer.connect();
      this.producer = producer;
    }
    const sent = await this.producer.send({ topic, acks: -1, messages });
    return new Map(sent.map((r) => [r.partition, BigInt(r.baseOffset ?? '0')]));
  }

  /** Committed offset minus end offset, summed over the partitions of `topics` for `groupId`. */
  async lag(groupId: string, topics: string[]): Promise<{ lag: number; byPartition: string[] }> {
    const admin = await this.connectedAdmin();
    let lag = 0;
    const byPartition: string[] = [];
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      for (const end of ends) {
        const c = committed.partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
        const behind = Number(BigInt(end.high) - (BigInt(c) < 0n ? 0n : BigInt(c)));
        lag += behind;
        if (behind > 0) byPartition.push(`${topic}[${end.partition}]: ${behind}`);
      }
    }
    return { lag, byPartition };
  }

  /** Partitions of `topic` assigned to each member (by client id) of a stable group; null while rebalancing. */
  async assignment(groupId: string, topic: string): Promise<Map<string, number[]> | null> {
    const admin = await this.connectedAdmin();
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups[0];
    if (!group || group.state !== 'Stable') return null;
    const byMember = new Map<string, number[]>();
    for (const m of group.members) {
      const decoded = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
      byMember.set(m.clientId, decoded?.assignment[topic] ?? []);
    }
    return byMember;
  }

  /** Creates a topic ahead of the processes, e.g. with a broker setting of its own. */
  async createTopic(topic: string, partitions: number, config: Record<string, string> = {}): Promise<void> {
    const admin = await this.connectedAdmin();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic,
          numPartitions: partitions,
          replicationFactor: 1,
          configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
        },
      ],
    });
  }

  /** Rewinds a (stopped) consumer group to the start of `topic`: every message is delivered again. */
  async rewind(groupId: string, topic: string): Promise<void> {
    const admin = await this.connectedAdmin();
    await admin.resetOffsets({ groupId, topic, earliest: true });
  }

  async deleteTopics(topics: string[]): Promise<void> {
    const admin = await this.connectedAdmin();
    const existing = new Set(await admin.listTopics());
    const doomed = topics.filter((t) => existing.has(t));
    if (doomed.length) await admin.deleteTopics({ topics: doomed, timeout: 10000 });
  }

  async deleteGroups(groups: string[]): Promise<void> {
    const admin = await this.connectedAdmin();
    await admin.deleteGroups(groups).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    this.producer = null;
    this.admin = null;
  }
}
