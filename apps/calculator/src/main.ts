import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit } from '@app/config';
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
  console.error(`calculator failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
