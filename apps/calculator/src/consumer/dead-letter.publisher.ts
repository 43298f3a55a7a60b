import { Inject, Injectable, Logger } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import type { KafkaSettings } from '@app/config';
import { buildDeadLetter, EventPublisher, KAFKA_SETTINGS, type OutgoingMessage } from '@app/messaging';
import { CalculatorMetrics } from '../calculator.metrics';

export interface Rejected {
  message: KafkaMessage;
  reason: string;
}

/**
 * A dead letter carries the original message, and the broker refuses messages over 1 MB (its default
 * message.max.bytes). A message near that size, or garbage bytes (which grow up to three times as
 * UTF-8 text), would make a letter the broker refuses: the chunk would then be redelivered and refused
 * again, for ever. So a letter keeps at most this much of the original value (the whole message stays
 * at the topic, partition and offset the letter names) and says so in its error.
 */
export const DEAD_LETTER_MAX_VALUE_BYTES = 64 * 1024;
const DEAD_LETTER_MAX_KEY_BYTES = 1024;
/** Letters per send, by size: one send is one request to the broker, bounded like one message. */
const DEAD_LETTER_MAX_SEND_BYTES = 512 * 1024;

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
    const letters = rejected.map(({ message, reason }): OutgoingMessage => {
      const key = bounded(message.key, DEAD_LETTER_MAX_KEY_BYTES);
      const value = bounded(message.value, DEAD_LETTER_MAX_VALUE_BYTES);
      const cut = value.truncated ? ` (value truncated: the message is ${value.bytes} bytes)` : '';
      return buildDeadLetter({
        topic,
        partition,
        offset: message.offset,
        key: key.text,
        value: value.text,
        error: `${reason}${cut}`,
        failed_at: failedAt,
      });
    });
    for (const batch of bySize(letters, DEAD_LETTER_MAX_SEND_BYTES))
      await this.publisher.publish(this.kafka.topics.dlq, batch);
    for (const { message, reason } of rejected) {
      this.metrics.messageDeadLettered(topic);
      this.logger.warn({ msg: 'message dead-lettered', topic, partition, offset: message.offset, reason });
    }
  }
}

/** The UTF-8 text of `bytes`, cut to at most `max` bytes on a character boundary. */
function bounded(
  bytes: Buffer | null,
  max: number,
): { text: string | null; bytes: number; truncated: boolean } {
  if (bytes === null) return { text: null, bytes: 0, truncated: false };
  const text = bytes.toString('utf8');
  const utf8 = Buffer.from(text, 'utf8');
  if (utf8.length <= max) return { text, bytes: bytes.length, truncated: false };
  let cut = max;
  while (cut > 0 && (utf8[cut] & 0xc0) === 0x80) cut--; // never split a multi-byte character
  return { text: utf8.subarray(0, cut).toString('utf8'), bytes: bytes.length, truncated: true };
}

/** Consecutive groups of messages whose values add up to at most `max` bytes (at least one each). */
function bySize(messages: OutgoingMessage[], max: number): OutgoingMessage[][] {
  const batches: OutgoingMessage[][] = [];
  let current: OutgoingMessage[] = [];
  let size = 0;
  for (const m of messages) {
    const bytes = Buffer.byteLength(m.value);
    if (current.length > 0 && size + bytes > max) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(m);
    size += bytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
