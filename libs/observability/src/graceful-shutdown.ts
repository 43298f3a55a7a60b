import type { INestApplication, LoggerService } from '@nestjs/common';

/**
 * SIGTERM/SIGINT close the app (its shutdown hooks drain work and close connections) and exit 0.
 * Should a hook hang, the process still exits, with code 1, before the orchestrator's 10 s kill.
 */
export function exitOnSignals(app: INestApplication, logger: LoggerService, deadlineMs = 9000): void {
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.log(`${signal} received: shutting down`);
    setTimeout(() => {
      logger.error(`shutdown did not finish within ${deadlineMs} ms; exiting`);
      process.exit(1);
    }, deadlineMs).unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
