import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { IdempotentPublisher, type OutgoingMessage } from '@app/messaging';
import { OutboxEvent, OutboxRepository, SentButNotMarkedError, type SentEvents } from '@app/persistence';

const RELAY_BATCH = 1000;
const IDLE_POLL_MS = 500;
/**
 * How long leased events stay reserved for their relay once it lost its row locks: a database restart
 * between the broker's ack and the mark (the relay marks them when the database is back), or a relay
 * killed mid-send (another one sends them again after this long).
 */
const RELAY_LEASE_SECONDS = 60;

/**
 * Publishes the snapshot events that valuation transactions wrote to the outbox, once each. Several
 * calculators relay side by side, each sending only the events it leased and locked
 * (OutboxRepository). An event is marked published only after the broker acknowledged it, so none is
 * lost; and none is sent twice:
 *
 * - a send that failed (the broker went away mid-send, maybe after appending part of it) is sent
 *   again as the very same batch by the same idempotent producer, which the broker deduplicates;
 *   the lease keeps the batch this relay's meanwhile;
 * - a database failure right after the ack: the lease keeps other relays off the events, and this
 *   relay marks them first thing once the database is back.
 *
 * What is left: a relay killed between the broker's ack and the mark has its events sent again by
 * another relay after the lease, and a batch re-sent under a new producer id (the broker lost this
 * one's state) may repeat what the broker had appended of it. Consumers dedupe on the snapshot id.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap {
  private readonly logger = new Logger(OutboxRelay.name);
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  /** Events the broker acknowledged but the database could not mark published yet. */
  private readonly sentUnmarked: SentEvents[] = [];
  /** The lease whose send failed: it is sent again, unchanged, before anything else. */
  private unsent: string | null = null;

  constructor(
    private readonly outbox: OutboxRepository,
    private readonly publisher: IdempotentPublisher,
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

  async relayOnce(): Promise<number> {
    while (this.sentUnmarked.length > 0) {
      await this.outbox.markPublished(this.sentUnmarked[0]);
      this.sentUnmarked.shift();
    }
    if (this.unsent !== null && !(await this.outbox.renew(this.unsent, RELAY_LEASE_SECONDS))) {
      // Its lease ran out and another relay took the events: what the broker has of this batch
      // must not be taken for part of a different one, so the producer starts over too.
      this.unsent = null;
      await this.publisher.replaceProducer();
    }
    const token = this.unsent ?? (await this.outbox.lease(RELAY_BATCH, RELAY_LEASE_SECONDS));
    if (token === null) return 0;
    this.unsent = token;
    try {
      const sent = await this.outbox.sendLeased(token, (events) => this.publish(events));
      this.unsent = null;
      return sent;
    } catch (error) {
      if (error instanceof SentButNotMarkedError) {
        this.sentUnmarked.push(error.sent);
        this.unsent = null;
      } else if (IdempotentPublisher.lostProducerState(error)) {
        await this.publisher.replaceProducer();
      }
      throw error;
    }
  }

  private async publish(events: OutboxEvent[]): Promise<void> {
    const byTopic = new Map<string, OutgoingMessage[]>();
    for (const { topic, key, value } of events) {
      const list = byTopic.get(topic);
      if (list) list.push({ key, value });
      else byTopic.set(topic, [{ key, value }]);
    }
    for (const [topic, messages] of byTopic) await this.publisher.publish(topic, messages);
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

  /**
   * Publishes what the last transactions wrote, then stops. The Kafka transport calls it when it
   * closes, once the consumer has left the group: Nest closes transports before any shutdown hook, so
   * the database and the producer are still there, and the consumer's last chunk has committed.
   */
  async drainAndStop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    await this.relayOnce().catch(() => 0);
    // A batch still unsent is another relay's to send now rather than after its lease.
    if (this.unsent !== null) await this.outbox.release(this.unsent).catch(() => undefined);
  }
}
