import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { EventPublisher } from '@app/messaging';
import { OutboxEvent, OutboxRepository } from '@app/persistence';

const RELAY_BATCH = 1000;
const IDLE_POLL_MS = 500;

/**
 * Publishes the snapshot events that valuation transactions wrote to the outbox. Several calculators
 * relay side by side (rows are locked with SKIP LOCKED); an event is marked published only after the
 * broker acknowledged it, so a crash re-sends rather than loses (consumers dedupe on the snapshot id).
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxRelay.name);
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;

  constructor(
    private readonly outbox: OutboxRepository,
    private readonly publisher: EventPublisher,
  ) {}

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  /** New events were committed: relay now instead of at the next poll. */
  wake(): void {
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let relayed = 0;
      try {
        relayed = await this.relayOnce();
      } catch (error) {
        this.logger.warn(
          `outbox relay failed, retrying: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      if (relayed < RELAY_BATCH && this.running) await this.idle();
    }
  }

  relayOnce(): Promise<number> {
    return this.outbox.relay(RELAY_BATCH, (events) => this.publish(events));
  }

  private async publish(events: OutboxEvent[]): Promise<void> {
    const byTopic = new Map<string, OutboxEvent[]>();
    for (const e of events) byTopic.set(e.topic, [...(byTopic.get(e.topic) ?? []), e]);
    for (const [topic, list] of byTopic) {
      await this.publisher.publish(
        topic,
        list.map((e) => ({ key: e.key, value: JSON.stringify(e.payload) })),
      );
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, IDLE_POLL_MS);
      this.wakeUp = done;
    });
  }

  /** Runs after the consumer left the group: publish what its last transactions wrote, then stop. */
  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    await this.relayOnce().catch(() => 0);
  }
}
