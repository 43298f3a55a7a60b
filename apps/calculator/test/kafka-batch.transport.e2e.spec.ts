import { Controller, INestApplication } from '@nestjs/common';
import { EventPattern, MicroserviceOptions, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig, type KafkaSettings } from '@app/config';
import { ensureTopics, KAFKA_CLIENT, KAFKA_SETTINGS } from '@app/messaging';
import { OutboxRelay } from '../src/outbox/outbox.relay';
import type { IncomingChunk } from '../src/transport/incoming-chunk';
import { CHUNK_SIZE, KafkaBatchTransport } from '../src/transport/kafka-batch.transport';
import { PartitionProgress } from '../src/transport/partition-progress';
import { isolatedKafkaEnv } from '../../../test/support/kafka';

/** What the handlers saw, and a failure to inject into the next valuation chunk. */
const seen = { valuations: [] as string[][], prices: 0, rates: 0, failNext: false };

@Controller()
class RecordingInputs {
  @EventPattern('valuation_required')
  valuations(@Payload() chunk: IncomingChunk): void {
    if (seen.failNext) {
      seen.failNext = false;
      throw new Error('database unreachable (injected)');
    }
    seen.valuations.push(chunk.messages.map((m) => m.value!.toString()));
  }

  @EventPattern('market_price_persisted')
  prices(@Payload() chunk: IncomingChunk): void {
    seen.prices += chunk.messages.length;
  }

  @EventPattern('fx_rate_persisted')
  rates(@Payload() chunk: IncomingChunk): void {
    seen.rates += chunk.messages.length;
  }
}

@Controller()
class WithoutRates {
  @EventPattern('valuation_required')
  valuations(): void {}

  @EventPattern('market_price_persisted')
  prices(): void {}
}

/** The transport on the real broker, with handlers of the spec's own; the database plays no part here. */
describe('KafkaBatchTransport (real broker)', () => {
  let settings: KafkaSettings;
  let kafka: Kafka;
  const outbox = { wake: jest.fn(), drainAndStop: jest.fn(async () => undefined) };

  beforeAll(async () => {
    settings = loadConfig('calculator', { ...process.env, ...isolatedKafkaEnv('transport') }).kafka;
    kafka = new Kafka({ clientId: 'spec', brokers: settings.brokers, logLevel: logLevel.NOTHING });
    await ensureTopics(kafka, settings);
  });
  beforeEach(() => jest.clearAllMocks());

  async function start(controller: new () => unknown): Promise<INestApplication> {
    const moduleRef = await Test.createTestingModule({
      controllers: [controller],
      providers: [
        KafkaBatchTransport,
        { provide: KAFKA_CLIENT, useValue: kafka },
        { provide: KAFKA_SETTINGS, useValue: settings },
        { provide: OutboxRelay, useValue: outbox },
        { provide: PartitionProgress, useValue: new PartitionProgress(60, settings.topics) },
      ],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    app.connectMicroservice<MicroserviceOptions>({ strategy: app.get(KafkaBatchTransport) });
    await app.init();
    await app.startAllMicroservices().catch(async (error: unknown) => {
      await app.close();
      throw error;
    });
    return app;
  }

  async function committed(topic: string): Promise<number> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [offsets] = await admin.fetchOffsets({ groupId: settings.consumerGroup, topics: [topic] });
      return offsets.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    } finally {
      await admin.disconnect();
    }
  }

  it('refuses to start when an input has no @EventPattern handler', async () => {
    await expect(start(WithoutRates)).rejects.toThrow('no @EventPattern handler for fx_rate_persisted');
  });

  it('hands chunks of at most CHUNK_SIZE to the handler of their topic, redelivers a failed one, commits, drains on close', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const values = Array.from({ length: 1200 }, (_, i) => `m${i}`);
    // One partition, so the failed chunk is one the consumer must fetch again before going on.
    await producer.send({
      topic: settings.topics.valuationRequired,
      messages: values.map((value) => ({ value, partition: 0 })),
    });
    await producer.send({ topic: settings.topics.marketPricePersisted, messages: [{ value: 'p' }] });
    await producer.send({ topic: settings.topics.fxRatePersisted, messages: [{ value: 'r' }, { value: 'r' }] });
    await producer.disconnect();

    seen.failNext = true;
    const app = await start(RecordingInputs);
    const deadline = Date.now() + 30000;
    while (seen.valuations.flat().length < values.length || seen.rates < 2) {
      if (Date.now() > deadline) throw new Error(`only ${seen.valuations.flat().length} delivered`);
      await new Promise((r) => setTimeout(r, 100));
    }

    expect(seen.valuations.every((chunk) => chunk.length <= CHUNK_SIZE)).toBe(true);
    // The chunk that failed was not committed and came again: every message once, in order.
    expect(seen.valuations.flat()).toEqual(values);
    expect([seen.prices, seen.rates]).toEqual([1, 2]);
    expect(await committed(settings.topics.valuationRequired)).toBe(values.length);
    expect(outbox.wake).toHaveBeenCalled();

    await app.close();
    expect(outbox.drainAndStop).toHaveBeenCalledTimes(1);
  });
});
