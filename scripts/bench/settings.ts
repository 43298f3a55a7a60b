/** The pipeline settings of one bench run: environment variables of the apps (contract §7). */
export type BenchSettings = Readonly<Record<string, string>>;

/**
 * What every scenario runs with unless a scenario overrides one; written to the docs with the
 * results. Contract defaults except the poll interval: at the default 2,000 ms a job that becomes due
 * waits up to two seconds for the next cycle, and dispatch (one claim round per batch, ten rounds per
 * cycle) is capped near 5,000 jobs per cycle; 250 ms is what a latency-sensitive deployment would set.
 */
const DEFAULTS: BenchSettings = Object.freeze({
  VALUATION_JOB_POLICY: 'retrying',
  VALUATION_SCHEDULER_POLL_INTERVAL_MS: '250',
  VALUATION_SCHEDULER_BATCH_SIZE: '500',
  VALUATION_SCHEDULER_MAX_IN_FLIGHT: '5000',
  VALUATION_CLAIM_LEASE_SECONDS: '300',
  KAFKA_TOPIC_PARTITIONS: '6',
  LOG_LEVEL: 'info',
});

/**
 * The run's settings: the defaults with the `--set` overrides on top, made once in main and handed to
 * every scenario in its context (frozen, so no scenario can change what the next one runs with).
 */
export function benchSettings(overrides: Record<string, string>): BenchSettings {
  return Object.freeze({ ...DEFAULTS, ...overrides });
}
