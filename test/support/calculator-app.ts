import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Kafka, logLevel, Consumer, KafkaMessage } from 'kafkajs';
import { register } from 'prom-client';
import { AppConfig, loadConfig } from '@app/config';
import { kafkaSecurityOptions } from '@app/messaging';
import { CalculatorModule, connectKafkaInputs } from '../../apps/calculator/src/calculator.module';
import { isolatedKafkaEnv } from './kafka';

/** A calculator as a Nest app on the real database and broker, with topics of its own. */
export async function startCalculator(prefix: string, env: Record<string, string> = {}) {
  register.clear();
  const config = loadConfig('calculator', {
    ...process.env,
    ...isolatedKafkaEnv(prefix),
    LOG_LEVEL: 'warn',
    ...env,
  });
  const moduleRef = await Test.createTestingModule({
    imports: [CalculatorModule.forRoot(config, { defaultMetrics: false })],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await connectKafkaInputs(app);
  await app.listen(0, '127.0.0.1');
  return { app, config, url: await app.getUrl() };
}

/** A kafkajs client for a spec, with the app's TLS and SASL settings: produce input, read output topics. */
export class TestKafka {
  readonly kafka: Kafka;
  private readonly consumers: Consumer[] = [];
  private readonly producer;

  constructor(config: AppConfig) {
    this.kafka = new Kafka({
      clientId: 'spec',
      brokers: config.kafka.brokers,
      logLevel: logLevel.NOTHING,
      ...kafkaSecurityOptions(config.kafka),
    });
    this.producer = this.kafka.producer();
  }

  async connect(): Promise<void> {
    await this.producer.connect();
  }

  async send(
    topic: string,
    messages: { key: string | null; value: string | Buffer | null }[],
  ): Promise<void> {
    await this.producer.send({ topic, messages, acks: -1 });
  }

  /** Collects every message of `topic` into the returned array as it arrives. */
  async collect(topic: string): Promise<KafkaMessage[]> {
    const seen: KafkaMessage[] = [];
    const consumer = this.kafka.consumer({ groupId: `spec-${topic}-${Date.now()}` });
    this.consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message) });
    return seen;
  }

  async close(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.disconnect()));
    await this.producer.disconnect();
  }
}

export async function stop(app: INestApplication): Promise<void> {
  await app.close();
}
