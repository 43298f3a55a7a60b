import type { KafkaTopics } from '@app/config';
import { ReadinessCheck } from '@app/observability';

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * Whether each assigned partition advances. A partition starts "trying" when a chunk of it is handed
 * to its handler and stops when that chunk's offset is committed; one whose chunks keep failing (the
 * database down, a statement timing out, the DLQ refusing) keeps trying with the same start. Past
 * CALCULATOR_STALL_SECONDS it is stalled: readiness turns 503 and
 * `valuation_consumer_stalled_partitions{topic}` counts it, so the silence becomes visible. One
 * instance per process, made by the composition root (it is both a provider and a readiness check).
 */
export class PartitionProgress extends ReadinessCheck {
  readonly name = 'consumer';
  private readonly trying = new Map<string, { topic: string; partition: number; since: number }>();
  private readonly stallMs: number;

  constructor(
    stallSeconds: number,
    private readonly topics: KafkaTopics,
  ) {
    super();
    this.stallMs = stallSeconds * 1000;
  }

  /** A chunk of the partition is about to be handled; its clock starts unless it is already running. */
  started(topic: string, partition: number): void {
    if (!this.trying.has(key(topic, partition)))
      this.trying.set(key(topic, partition), { topic, partition, since: Date.now() });
  }

  /** The chunk's offset is committed: the partition advanced. */
  advanced(topic: string, partition: number): void {
    this.trying.delete(key(topic, partition));
  }

  /** After a rebalance only the partitions still assigned can stall this instance. */
  assigned(assignment: Record<string, number[]>): void {
    for (const [k, { topic, partition }] of this.trying)
      if (!(assignment[topic] ?? []).includes(partition)) this.trying.delete(k);
  }

  /** Stalled partitions per input topic (every topic listed, 0 when all of it advances). */
  stalledPartitions(now = Date.now()): Map<string, number> {
    const { valuationRequired, marketPricePersisted, fxRatePersisted } = this.topics;
    const counts = new Map([valuationRequired, marketPricePersisted, fxRatePersisted].map((t) => [t, 0]));
    for (const { topic, since } of this.trying.values())
      if (now - since > this.stallMs) counts.set(topic, (counts.get(topic) ?? 0) + 1);
    return counts;
  }

  check(): Promise<void> {
    const stalled = [...this.trying.values()].filter(({ since }) => Date.now() - since > this.stallMs);
    if (stalled.length === 0) return Promise.resolve();
    const names = stalled.map(({ topic, partition }) => `${topic}/${partition}`).join(', ');
    return Promise.reject(new Error(`partitions not advancing for over ${this.stallMs / 1000} s: ${names}`));
  }
}
