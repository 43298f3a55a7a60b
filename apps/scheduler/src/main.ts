import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit } from '@app/config';
import { createJsonLogger, exitOnSignals } from '@app/observability';
import { SchedulerModule } from './scheduler.module';

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit('scheduler');
  const logger = createJsonLogger('scheduler', config.logLevel);
  const app = await NestFactory.create(SchedulerModule.forRoot(config), { logger });
  // Closing the app stops the cycle, releases the leader lease and closes the pool and the producer.
  exitOnSignals(app, logger);
  await app.listen(config.httpPort);
  logger.log(`scheduler listening on :${config.httpPort}`);
}

bootstrap().catch((error: unknown) => {
  console.error(`scheduler failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
