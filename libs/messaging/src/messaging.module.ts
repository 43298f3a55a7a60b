import { DynamicModule, Inject, Logger, Module, OnModuleInit } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { KafkaSettings } from '@app/config';
import { EventPublisher } from './event-publisher';
import { KafkaReadiness } from './kafka.readiness';
import { createKafka, kafkaAuthenticationFailure, KafkaStartupError } from './kafka-client';
import { KAFKA_CLIENT, KAFKA_SETTINGS } from './messaging.tokens';
import { ensureTopics } from './topics';

/** The Kafka client of a process, its producer, and the topics of contract §6 created at startup. */
@Module({})
export class MessagingModule implements OnModuleInit {
  private readonly logger = new Logger(MessagingModule.name);

  constructor(
    @Inject(KAFKA_CLIENT) private readonly kafka: Kafka,
    @Inject(KAFKA_SETTINGS) private readonly settings: KafkaSettings,
  ) {}

  static forRoot(settings: KafkaSettings): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      providers: [
        { provide: KAFKA_SETTINGS, useValue: settings },
        { provide: KAFKA_CLIENT, useFactory: () => createKafka(settings) },
        EventPublisher,
        KafkaReadiness,
      ],
      exports: [KAFKA_CLIENT, KAFKA_SETTINGS, EventPublisher, KafkaReadiness],
    };
  }

  /** The first connection of a process: refused credentials end the boot with one line (KafkaStartupError). */
  async onModuleInit(): Promise<void> {
    let created: string[];
    try {
      created = await ensureTopics(this.kafka, this.settings);
    } catch (error) {
      const refused = kafkaAuthenticationFailure(error, this.settings);
      if (refused) throw new KafkaStartupError(refused, { cause: error });
      throw error;
    }
    if (created.length) this.logger.log(`created topics ${created.join(', ')}`);
  }
}
