import { Inject, Injectable, Logger } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import type { KafkaSettings } from '@app/config';
import { DeadLetter, EventPublisher, KAFKA_SETTINGS } from '@app/messaging';
import { CalculatorMetrics } from '../calculator.metrics';

export interface Rejected {
  message: KafkaMessage;
  reason: string;
}

/**
 * Bad messages are never dropped: each goes to the DLQ with where it came from and why, and only then
 * may its offset be committed. A failed DLQ send throws, so the batch is redelivered instead.
 */
@Injectable()
export class DeadLetterPublisher {
  private readonly logger = new Logger(DeadLetterPublisher.name);

  constructor(
    private readonly publisher: EventPublisher,
    private readonly metrics: CalculatorMetrics,
    @Inject(KAFKA_SETTINGS) private readonly kafka: KafkaSettings,
  ) {}

  async send(topic: string, partition: number, rejected: Rejected[]): Promise<void> {
    if (rejected.length === 0) return;
    const failedAt = new Date().toISOString();
    await this.publisher.publish(
      this.kafka.topics.dlq,
      rejected.map(({ message, reason }) => {
        const letter: DeadLetter = {
          topic,
          partition,
          offset: message.offset,
          key: message.key?.toString('utf8') ?? null,
          value: message.value?.toString('utf8') ?? null,
          error: reason,
          failed_at: failedAt,
        };
        return { key: letter.key, value: JSON.stringify(letter) };
      }),
    );
    for (const { message, reason } of rejected) {
      this.metrics.messageDeadLettered(topic);
      this.logger.warn({ msg: 'message dead-lettered', topic, partition, offset: message.offset, reason });
    }
  }
}
