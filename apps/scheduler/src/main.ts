import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit } from '@app/config';
import { kafkaAuthenticationFailure } from '@app/messaging';
import { createJsonLogger, exitOnSignals } from '@app/observability';
import { SchedulerModule } from './scheduler.module';

const config = loadConfigOrExit('scheduler');

async function bootstrap(): Promise<void> {
  const logger = createJsonLogger('scheduler', config.logLevel);
  const app = await NestFactory.create(SchedulerModule.forRoot(config), { logger });
  // Closing the app stops the cycle, releases the leader lease and closes the pool and the producer.
  exitOnSignals(app, logger);
  await app.listen(config.httpPort, config.httpHost);
  logger.log(`scheduler listening on ${config.httpHost}:${config.httpPort}`);
}

bootstrap().catch((error: unknown) => {
  // Brokers refusing the login is one line naming what to check, without the password.
  const detail =
    kafkaAuthenticationFailure(error, config.kafka) ??
    (error instanceof Error ? error.message : String(error));
  console.error(`scheduler failed to start: ${detail}`);
  process.exit(1);
});
