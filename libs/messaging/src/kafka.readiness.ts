import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Admin, Kafka } from 'kafkajs';
import { ReadinessCheck } from '@app/observability';
import { KAFKA_CLIENT } from './messaging.tokens';

/** The broker answers a metadata request. The admin client is kept connected between checks. */
@Injectable()
export class KafkaReadiness extends ReadinessCheck implements OnApplicationShutdown {
  readonly name = 'kafka';
  private admin: Admin | null = null;

  constructor(@Inject(KAFKA_CLIENT) private readonly kafka: Kafka) {
    super();
  }

  async check(): Promise<void> {
    this.admin ??= this.kafka.admin({ retry: { retries: 0 } });
    try {
      await this.admin.connect();
      await this.admin.describeCluster();
    } catch (error) {
      const admin = this.admin;
      this.admin = null;
      await admin.disconnect().catch(() => undefined);
      throw error;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.admin?.disconnect();
  }
}
