import { ConsoleLogger, LogLevel } from '@nestjs/common';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
const THRESHOLD: Record<string, LogLevel> = {
  error: 'error',
  warn: 'warn',
  info: 'log',
  debug: 'debug',
  verbose: 'verbose',
};

/** One JSON object per line, so operators can search logs by job key and correlation id. */
export function createJsonLogger(app: string, level: string): ConsoleLogger {
  const last = LEVELS.indexOf(THRESHOLD[level] ?? 'log');
  return new ConsoleLogger(app, { json: true, logLevels: LEVELS.slice(0, last + 1) });
}
