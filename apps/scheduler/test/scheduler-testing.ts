import type { INestApplication, LoggerService } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import { type Consumer, Kafka, logLevel } from 'kafkajs';
import { register } from 'prom-client';
import { type AppConfig, loadConfig } from '@app/config';
import { kafkaSecurityOptions } from '@app/messaging';
import { CYCLE_LIMITS, type CycleLimits, cycleLimitsFor } from '../src/cycle/cycle-limits';
import { SchedulerModule } from '../src/scheduler.module';

/** Tokens of the operators' API the specs' schedulers accept (random per run, as real ones are). */
export const SPEC_TOKENS = {
  operator: randomBytes(32).toString('hex'),
  viewer: randomBytes(32).toString('hex'),
} as const;
export const SPEC_OPERATOR_TOKENS = `spec-operator:operator:${SPEC_TOKENS.operator},spec-viewer:viewer:${SPEC_TOKENS.viewer}`;

/** `Authorization` for a call of the operators' API as the spec's `operator` (or `viewer`). */
export function bearer(role: keyof typeof SPEC_TOKENS = 'operator'): { authorization: string } {
  return { authorization: `Bearer ${SPEC_TOKENS[role]}` };
}

/**
 * A scheduler configuration on this worker's test database and this spec's own topics, with the
 * {@link SPEC_TOKENS} as its operators unless `overrides` says otherwise.
 */
export function schedulerConfig(
  kafkaEnv: Record<string, string>,
  overrides: Record<string, string> = {},
): AppConfig {
  return loadConfig('scheduler', {
    ...process.env,
    OPERATOR_TOKENS: SPEC_OPERATOR_TOKENS,
    ...kafkaEnv,
    ...overrides,
  });
}

export interface SchedulerOptions {
  /** Default false: specs call the steps themselves. */
  runLoop?: boolean;
  limits?: Partial<CycleLimits>;
  customize?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
  /** Default: Nest's console logger, errors and warnings only. */
  logger?: LoggerService;
}

/**
 * The real SchedulerModule (real PostgreSQL, real broker), metrics registry reset first because
 * prom-client's registry is global to the process.
 */
export async function startScheduler(
  config: AppConfig,
  options: SchedulerOptions = {},
): Promise<INestApplication> {
  register.clear();
  let builder = Test.createTestingModule({
    imports: [SchedulerModule.forRoot(config, { defaultMetrics: false, runLoop: options.runLoop ?? false })],
  });
  if (options.limits) {
    builder = builder
      .overrideProvider(CYCLE_LIMITS)
      .useValue({ ...cycleLimitsFor(config.scheduler), ...options.limits } satisfies CycleLimits);
  }
  if (options.customize) builder = options.customize(builder);
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication({ logger: options.logger ?? ['error', 'warn'] });
  await app.init();
  return app;
}

/** A consumer for asserting what was published; short fetch waits so disconnecting is quick. */
export function testConsumer(config: AppConfig, groupId: string): Consumer {
  const kafka = new Kafka({
    clientId: 'scheduler-spec',
    brokers: config.kafka.brokers,
    logLevel: logLevel.NOTHING,
    ...kafkaSecurityOptions(config.kafka),
  });
  return kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
}

/** The UTC date `days` after `date` (YYYY-MM-DD). */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}
