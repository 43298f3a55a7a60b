import { ENV_DEFAULTS, EnvName, envSchema } from './config.schema';
import {
  type DatabaseConnection,
  DatabasePasswordFileError,
  resolveDatabaseConnection,
} from './database-connection';
import { type OperatorPrincipal, OperatorTokenError, parseOperatorTokens } from './operator-tokens';
import {
  type KafkaSaslSettings,
  type KafkaTlsSettings,
  KafkaSecurityError,
  parseKafkaSasl,
  parseKafkaTls,
} from './kafka-security';

export type AppName = 'calculator' | 'scheduler';
export type JobPolicyName = 'retrying' | 'legacy';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'verbose';

export type TopicRole =
  'valuationRequired' | 'marketPricePersisted' | 'fxRatePersisted' | 'snapshotPersisted' | 'dlq';
export type KafkaTopics = Record<TopicRole, string>;

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  consumerGroup: string;
  topicPartitions: number;
  /** Replicas of the topics the processes create; `min.insync.replicas` is min(2, this). */
  topicReplicationFactor: number;
  topics: KafkaTopics;
  /** TLS to the brokers (`KAFKA_SSL`, files read at boot); absent: plaintext. */
  tls?: KafkaTlsSettings;
  /** SASL authentication (`KAFKA_SASL_*`); absent: none. Its password is not enumerable. */
  sasl?: KafkaSaslSettings;
}

export interface RetryConfig {
  backoffSeconds: number;
  backoffMultiplier: number;
  backoffMaxSeconds: number;
  maxAttempts: number;
}

export interface SchedulerSettings {
  pollIntervalMs: number;
  batchSize: number;
  maxInFlight: number;
  claimLeaseSeconds: number;
  /** A leader that has not renewed its lease for this long is replaced, even if its process lives on. */
  leaderLeaseSeconds: number;
  /** Published outbox events and finished fan-out triggers are deleted this long after they are done. */
  retentionHours: number;
  /** A job's attempt history (`GET /jobs/:id`) is deleted this many days after each attempt ended. */
  attemptHistoryDays: number;
  businessCalendarCode: string;
  alertAttemptThreshold: number;
}

export interface DatabaseSettings {
  /**
   * Where and as whom to connect: `DATABASE_URL` without its password, the password (overridden by
   * `DATABASE_PASSWORD_FILE`) kept apart. Every connection of the apps and the migration tool uses it.
   */
  connection: DatabaseConnection;
  /** Every statement of the apps is cancelled by the server after this long. */
  statementTimeoutMs: number;
  /** A statement waiting this long for a lock fails instead of waiting on. */
  lockTimeoutMs: number;
}

export interface CalculatorSettings {
  /** A partition that has not advanced for this long (its chunk failing again and again) is reported stalled. */
  stallSeconds: number;
}

/** The one typed configuration object of a process, validated once at boot. */
export class AppConfig {
  constructor(
    readonly app: AppName,
    readonly kafka: KafkaSettings,
    readonly jobPolicy: JobPolicyName,
    readonly retry: RetryConfig,
    readonly scheduler: SchedulerSettings,
    readonly httpPort: number,
    /** The address both apps listen on (contract §10): loopback unless told otherwise. */
    readonly httpHost: string,
    readonly logLevel: LogLevel,
    readonly database: DatabaseSettings,
    readonly calculator: CalculatorSettings,
    /** Who may call the scheduler's operators' API (contract §9); empty: nobody (every call is 401). */
    readonly operators: readonly OperatorPrincipal[] = [],
  ) {}
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`Invalid configuration: ${variable} ${detail}`);
  }
}

/** Variables whose value a configuration error must not repeat (contract §10). */
const SECRET_VARIABLES = new Set<string>([
  'OPERATOR_TOKENS',
  'OPERATOR_TOKENS_FILE',
  'KAFKA_SASL_PASSWORD',
  'DATABASE_PASSWORD_FILE',
]);
/** The password of a URL (`//user:password@`), found even in a value that does not parse as a URL. */
const URL_PASSWORD = /(\/\/[^/@\s:]*:)[^@\s]*@/g;

/** What a configuration error shows of the value given: never a secret, never a URL's password. */
function shown(variable: string, value: string): string {
  if (SECRET_VARIABLES.has(variable)) return '';
  return ` (got ${JSON.stringify(value.replace(URL_PASSWORD, '$1***@'))})`;
}

/** Empty variables count as unset, so `FOO=` in a shell falls back to the default. */
function withDefaults(env: NodeJS.ProcessEnv): Record<EnvName, string> {
  const merged = {} as Record<EnvName, string>;
  for (const name of Object.keys(ENV_DEFAULTS) as EnvName[]) {
    const value = env[name];
    merged[name] = value === undefined || value.trim() === '' ? ENV_DEFAULTS[name] : value.trim();
  }
  return merged;
}

export function loadConfig(app: AppName, env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(withDefaults(env));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue.path[0]);
    const given = env[variable];
    throw new ConfigError(variable, `${issue.message}${shown(variable, given ?? '')}`);
  }
  const e = parsed.data;
  let operators: OperatorPrincipal[];
  try {
    operators = parseOperatorTokens(e.OPERATOR_TOKENS, e.OPERATOR_TOKENS_FILE);
  } catch (error) {
    // Its messages name an entry by position and never contain a token.
    if (error instanceof OperatorTokenError) throw new ConfigError(error.variable, error.message);
    throw error;
  }
  let connection: DatabaseConnection;
  try {
    connection = resolveDatabaseConnection(e.DATABASE_URL, e.DATABASE_PASSWORD_FILE);
  } catch (error) {
    // Its messages name the file's path, never its content.
    if (error instanceof DatabasePasswordFileError) throw new ConfigError(error.variable, error.message);
    throw error;
  }
  let kafkaTls: KafkaTlsSettings | undefined;
  let kafkaSasl: KafkaSaslSettings | undefined;
  try {
    kafkaTls = parseKafkaTls(e);
    kafkaSasl = parseKafkaSasl(e);
  } catch (error) {
    // Its messages name the variable and a file's path, never a password or a file's content.
    if (error instanceof KafkaSecurityError) throw new ConfigError(error.variable, error.message);
    throw error;
  }
  return new AppConfig(
    app,
    {
      brokers: e.KAFKA_BROKERS,
      clientId: e.KAFKA_CLIENT_ID || `valuation-${app}`,
      consumerGroup: e.KAFKA_CONSUMER_GROUP,
      topicPartitions: e.KAFKA_TOPIC_PARTITIONS,
      topicReplicationFactor: e.KAFKA_TOPIC_REPLICATION_FACTOR,
      topics: {
        valuationRequired: e.KAFKA_TOPIC_VALUATION_REQUIRED,
        marketPricePersisted: e.KAFKA_TOPIC_MARKET_PRICE_PERSISTED,
        fxRatePersisted: e.KAFKA_TOPIC_FX_RATE_PERSISTED,
        snapshotPersisted: e.KAFKA_TOPIC_SNAPSHOT_PERSISTED,
        dlq: e.KAFKA_TOPIC_DLQ,
      },
      ...(kafkaTls && { tls: kafkaTls }),
      ...(kafkaSasl && { sasl: kafkaSasl }),
    },
    e.VALUATION_JOB_POLICY,
    {
      backoffSeconds: e.VALUATION_RETRY_BACKOFF_SECONDS,
      backoffMultiplier: e.VALUATION_RETRY_BACKOFF_MULTIPLIER,
      backoffMaxSeconds: e.VALUATION_RETRY_BACKOFF_MAX_SECONDS,
      maxAttempts: e.VALUATION_RETRY_MAX_ATTEMPTS,
    },
    {
      pollIntervalMs: e.VALUATION_SCHEDULER_POLL_INTERVAL_MS,
      batchSize: e.VALUATION_SCHEDULER_BATCH_SIZE,
      maxInFlight: e.VALUATION_SCHEDULER_MAX_IN_FLIGHT,
      claimLeaseSeconds: e.VALUATION_CLAIM_LEASE_SECONDS,
      leaderLeaseSeconds: e.VALUATION_LEADER_LEASE_SECONDS,
      retentionHours: e.VALUATION_RETENTION_HOURS,
      attemptHistoryDays: e.VALUATION_ATTEMPT_HISTORY_DAYS,
      businessCalendarCode: e.BUSINESS_CALENDAR_CODE,
      alertAttemptThreshold: e.VALUATION_ALERT_ATTEMPT_THRESHOLD,
    },
    app === 'calculator' ? e.CALCULATOR_HTTP_PORT : e.SCHEDULER_HTTP_PORT,
    e.HTTP_HOST,
    e.LOG_LEVEL,
    {
      connection,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      lockTimeoutMs: e.DATABASE_LOCK_TIMEOUT_MS,
    },
    { stallSeconds: e.CALCULATOR_STALL_SECONDS },
    operators,
  );
}

/** For entrypoints: a bad configuration is one line on stderr and exit code 1, never a stack trace. */
export function loadConfigOrExit(app: AppName, env: NodeJS.ProcessEnv = process.env): AppConfig {
  try {
    return loadConfig(app, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
