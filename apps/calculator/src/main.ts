import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit } from '@app/config';
import { KafkaStartupError } from '@app/messaging';
import { createJsonLogger, exitOnSignals } from '@app/observability';
import { CalculatorModule } from './calculator.module';

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit('calculator');
  const logger = createJsonLogger('calculator', config.logLevel);
  const app = await NestFactory.create(CalculatorModule.forRoot(config), { logger });
  exitOnSignals(app, logger);
  await app.listen(config.httpPort);
  logger.log(`calculator listening on :${config.httpPort} (policy ${config.jobPolicy})`);
}

bootstrap().catch((error: unknown) => {
  // A refused login is one line naming what to check; anything unexpected keeps its stack.
  const detail =
    error instanceof KafkaStartupError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  console.error(`calculator failed to start: ${detail}`);
  process.exit(1);
});
