import { z } from 'zod';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^-?\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const decimalNumber = (min: number) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, 'must be a number')
    .transform(Number)
    .pipe(z.number().min(min, `must be at least ${min}`));

const topicName = z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'must be a valid Kafka topic name');

const databaseUrl = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return ['postgres:', 'postgresql:'].includes(url.protocol) && url.pathname.length > 1;
  } catch {
    return false;
  }
}, 'must be a postgres:// URL naming a database');

const brokers = z
  .string()
  .transform((value) => value.split(',').map((b) => b.trim()))
  .pipe(z.array(z.string().regex(/^[A-Za-z0-9.-]+:\d{1,5}$/, 'must be host:port[,host:port…]')).min(1));

/**
 * Every environment variable of contract §7 with its default. The keys are the variable names,
 * so a validation error names the variable; `.env.example` and the README's configuration table are checked
 * against this object by a spec.
 */
export const ENV_DEFAULTS = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/valuation',
  DATABASE_PASSWORD_FILE: '',
  DATABASE_STATEMENT_TIMEOUT_MS: '30000',
  DATABASE_LOCK_TIMEOUT_MS: '5000',
  KAFKA_BROKERS: '127.0.0.1:9092',
  KAFKA_CLIENT_ID: '',
  KAFKA_CONSUMER_GROUP: 'valuation-calculator',
  KAFKA_TOPIC_PARTITIONS: '6',
  KAFKA_TOPIC_REPLICATION_FACTOR: '1',
  KAFKA_TOPIC_VALUATION_REQUIRED: 'valuation_required',
  KAFKA_TOPIC_MARKET_PRICE_PERSISTED: 'market_price_persisted',
  KAFKA_TOPIC_FX_RATE_PERSISTED: 'fx_rate_persisted',
  KAFKA_TOPIC_SNAPSHOT_PERSISTED: 'daily_position_snapshot_persisted',
  KAFKA_TOPIC_DLQ: 'valuation.dlq',
  KAFKA_SSL: 'false',
  KAFKA_SSL_CA_FILE: '',
  KAFKA_SSL_CERT_FILE: '',
  KAFKA_SSL_KEY_FILE: '',
  KAFKA_SASL_MECHANISM: 'none',
  KAFKA_SASL_USERNAME: '',
  KAFKA_SASL_PASSWORD: '',
  KAFKA_SASL_PASSWORD_FILE: '',
  VALUATION_JOB_POLICY: 'retrying',
  VALUATION_RETRY_BACKOFF_SECONDS: '600',
  VALUATION_RETRY_BACKOFF_MULTIPLIER: '1',
  VALUATION_RETRY_BACKOFF_MAX_SECONDS: '21600',
  VALUATION_RETRY_MAX_ATTEMPTS: '0',
  VALUATION_ALERT_ATTEMPT_THRESHOLD: '5',
  VALUATION_SCHEDULER_POLL_INTERVAL_MS: '2000',
  VALUATION_SCHEDULER_BATCH_SIZE: '500',
  VALUATION_SCHEDULER_MAX_IN_FLIGHT: '5000',
  VALUATION_CLAIM_LEASE_SECONDS: '300',
  VALUATION_LEADER_LEASE_SECONDS: '15',
  VALUATION_RETENTION_HOURS: '24',
  VALUATION_ATTEMPT_HISTORY_DAYS: '30',
  BUSINESS_CALENDAR_CODE: 'GLOBAL',
  CALCULATOR_HTTP_PORT: '8084',
  CALCULATOR_STALL_SECONDS: '60',
  SCHEDULER_HTTP_PORT: '8087',
  HTTP_HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
  OPERATOR_TOKENS: '',
  OPERATOR_TOKENS_FILE: '',
} as const;

export type EnvName = keyof typeof ENV_DEFAULTS;

export const envSchema = z.object({
  DATABASE_URL: databaseUrl,
  // Read by loadConfig (database-connection.ts), whose errors never repeat the password.
  DATABASE_PASSWORD_FILE: z.string(),
  DATABASE_STATEMENT_TIMEOUT_MS: int(100, 3_600_000),
  DATABASE_LOCK_TIMEOUT_MS: int(100, 3_600_000),
  KAFKA_BROKERS: brokers,
  KAFKA_CLIENT_ID: z.string().regex(/^[A-Za-z0-9._-]*$/, 'must be letters, digits, dot, dash or underscore'),
  KAFKA_CONSUMER_GROUP: z.string().min(1),
  KAFKA_TOPIC_PARTITIONS: int(1, 1000),
  KAFKA_TOPIC_REPLICATION_FACTOR: int(1, 32),
  KAFKA_TOPIC_VALUATION_REQUIRED: topicName,
  KAFKA_TOPIC_MARKET_PRICE_PERSISTED: topicName,
  KAFKA_TOPIC_FX_RATE_PERSISTED: topicName,
  KAFKA_TOPIC_SNAPSHOT_PERSISTED: topicName,
  KAFKA_TOPIC_DLQ: topicName,
  KAFKA_SSL: z.enum(['true', 'false'], { error: "must be 'true' or 'false'" }).transform((v) => v === 'true'),
  // The files are read, and the combinations checked, by loadConfig (kafka-security.ts).
  KAFKA_SSL_CA_FILE: z.string(),
  KAFKA_SSL_CERT_FILE: z.string(),
  KAFKA_SSL_KEY_FILE: z.string(),
  KAFKA_SASL_MECHANISM: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(
      z.enum(['none', 'plain', 'scram-sha-256', 'scram-sha-512'], {
        error: "must be 'none', 'plain', 'scram-sha-256' or 'scram-sha-512'",
      }),
    ),
  KAFKA_SASL_USERNAME: z.string(),
  KAFKA_SASL_PASSWORD: z.string(),
  KAFKA_SASL_PASSWORD_FILE: z.string(),
  VALUATION_JOB_POLICY: z.enum(['retrying', 'legacy'], { error: "must be 'retrying' or 'legacy'" }),
  VALUATION_RETRY_BACKOFF_SECONDS: int(0),
  VALUATION_RETRY_BACKOFF_MULTIPLIER: decimalNumber(1),
  VALUATION_RETRY_BACKOFF_MAX_SECONDS: int(0),
  VALUATION_RETRY_MAX_ATTEMPTS: int(0),
  VALUATION_ALERT_ATTEMPT_THRESHOLD: int(0),
  VALUATION_SCHEDULER_POLL_INTERVAL_MS: int(10, 3_600_000),
  VALUATION_SCHEDULER_BATCH_SIZE: int(1, 100_000),
  VALUATION_SCHEDULER_MAX_IN_FLIGHT: int(1, 10_000_000),
  VALUATION_CLAIM_LEASE_SECONDS: int(1, 86_400),
  VALUATION_LEADER_LEASE_SECONDS: int(2, 3600),
  VALUATION_RETENTION_HOURS: int(1, 8760),
  VALUATION_ATTEMPT_HISTORY_DAYS: int(1, 3660),
  BUSINESS_CALENDAR_CODE: z.string().min(1),
  CALCULATOR_HTTP_PORT: int(0, 65535),
  CALCULATOR_STALL_SECONDS: int(1, 86_400),
  SCHEDULER_HTTP_PORT: int(0, 65535),
  HTTP_HOST: z.string().regex(/^[A-Za-z0-9.:-]+$/, 'must be an IP address or host name to listen on'),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug', 'verbose'], {
    error: "must be one of 'error', 'warn', 'info', 'debug', 'verbose'",
  }),
  // Parsed (and the file read) by loadConfig, whose errors never repeat a token (operator-tokens.ts).
  OPERATOR_TOKENS: z.string(),
  OPERATOR_TOKENS_FILE: z.string(),
} satisfies Record<EnvName, z.ZodType>);

export type Env = z.infer<typeof envSchema>;
