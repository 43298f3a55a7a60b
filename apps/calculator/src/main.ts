import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit } from '@app/config';
import { kafkaAuthenticationFailure } from '@app/messaging';
import { createJsonLogger, exitOnSignals } from '@app/observability';
import { CalculatorModule, connectKafkaInputs } from './calculator.module';

const config = loadConfigOrExit('calculator');

async function bootstrap(): Promise<void> {
  const logger = createJsonLogger('calculator', config.logLevel);
  const app = await NestFactory.create(CalculatorModule.forRoot(config), { logger });
  exitOnSignals(app, logger);
  await connectKafkaInputs(app);
  await app.listen(config.httpPort, config.httpHost);
  logger.log(`calculator listening on ${config.httpHost}:${config.httpPort} (policy ${config.jobPolicy})`);
}

bootstrap().catch((error: unknown) => {
  // Brokers refusing the login (whichever client met them first) is one line naming what to check,
  // without the password; anything unexpected keeps its stack.
  const detail =
    kafkaAuthenticationFailure(error, config.kafka) ??
    (error instanceof Error ? (error.stack ?? error.message) : String(error));
  console.error(`calculator failed to start: ${detail}`);
  process.exit(1);
});
