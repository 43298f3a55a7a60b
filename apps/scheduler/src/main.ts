import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit } from '@app/config';
import { createJsonLogger } from '@app/observability';
import { SchedulerModule } from './scheduler.module';

/** SIGTERM must end the process within 10 s even if a shutdown hook hangs on a dead dependency. */
const SHUTDOWN_DEADLINE_MS = 9000;

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit('scheduler');
  const logger = createJsonLogger('scheduler', config.logLevel);
  const app = await NestFactory.create(SchedulerModule.forRoot(config), { logger });
  // Nest's hooks stop the cycle, release the leader lock and close the pool and the producer.
  app.enableShutdownHooks();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    // `once`: after closing, Nest re-raises the signal, which must then take its default effect.
    process.once(signal, () => {
      setTimeout(() => {
        logger.error(`shutdown did not finish within ${SHUTDOWN_DEADLINE_MS} ms; exiting`);
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS).unref();
    });
  }
  await app.listen(config.httpPort);
  logger.log(`scheduler listening on :${config.httpPort}`);
}

bootstrap().catch((error: unknown) => {
  console.error(`scheduler failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
