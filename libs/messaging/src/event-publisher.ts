import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Kafka, Partitioners, Producer } from 'kafkajs';
import { KAFKA_CLIENT } from './messaging.tokens';

export interface OutgoingMessage {
  key: string | null;
  value: string;
}

/**
 * The process's one producer. With `acks: -1` a send resolves only once the broker has the messages,
 * so callers may commit what depends on them afterwards. A retried send may duplicate a message;
 * every consumer of ours is idempotent (claims, snapshot ids), so a bounded retry that fails fast
 * beats the idempotent producer's unbounded one.
 */
@Injectable()
export class EventPublisher implements OnModuleInit, OnApplicationShutdown {
  private readonly producer: Producer;

  constructor(@Inject(KAFKA_CLIENT) kafka: Kafka) {
    this.producer = kafka.producer({
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  async onModuleInit(): Promise<void> {
    await this.producer.connect();
  }

  async publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.producer.send({ topic, acks: -1, messages });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producer.disconnect();
  }
}
