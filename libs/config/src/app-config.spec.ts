import { ConfigError, ENV_DEFAULTS, loadConfig } from './index';

describe('loadConfig', () => {
  it('takes the contract defaults when nothing is set', () => {
    const config = loadConfig('scheduler', {});
    expect(config).toMatchObject({
      database: { connection: { url: 'postgres://postgres@127.0.0.1:5432/valuation' } },
      jobPolicy: 'retrying',
      httpPort: 8087,
      retry: { backoffSeconds: 600, backoffMultiplier: 1, backoffMaxSeconds: 21600, maxAttempts: 0 },
      scheduler: {
        pollIntervalMs: 2000,
        batchSize: 500,
        maxInFlight: 5000,
        claimLeaseSeconds: 300,
        businessCalendarCode: 'GLOBAL',
        alertAttemptThreshold: 5,
      },
      kafka: {
        brokers: ['127.0.0.1:9092'],
        clientId: 'valuation-scheduler',
        consumerGroup: 'valuation-calculator',
        topicPartitions: 6,
      },
    });
    expect(loadConfig('calculator', {}).httpPort).toBe(8084);
    expect(loadConfig('calculator', {}).kafka.topics).toEqual({
      valuationRequired: 'valuation_required',
      marketPricePersisted: 'market_price_persisted',
      fxRatePersisted: 'fx_rate_persisted',
      snapshotPersisted: 'daily_position_snapshot_persisted',
      dlq: 'valuation.dlq',
    });
  });

  it('reads every variable it knows', () => {
    const config = loadConfig('calculator', {
      KAFKA_BROKERS: 'a:1, b:2',
      VALUATION_JOB_POLICY: 'legacy',
      VALUATION_RETRY_BACKOFF_MULTIPLIER: '1.5',
      VALUATION_RETRY_MAX_ATTEMPTS: '3',
      CALCULATOR_HTTP_PORT: '9000',
    });
    expect(config.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(config.jobPolicy).toBe('legacy');
    expect(config.retry).toMatchObject({ backoffMultiplier: 1.5, maxAttempts: 3 });
    expect(config.httpPort).toBe(9000);
  });

  it.each([
    ['DATABASE_URL', 'nonsense'],
    ['DATABASE_URL', 'mysql://x/y'],
    ['VALUATION_RETRY_BACKOFF_SECONDS', 'ten'],
    ['VALUATION_RETRY_BACKOFF_SECONDS', '-1'],
    ['VALUATION_RETRY_BACKOFF_MULTIPLIER', '0.5'],
    ['VALUATION_JOB_POLICY', 'sometimes'],
    ['KAFKA_BROKERS', 'no-port'],
    ['KAFKA_TOPIC_PARTITIONS', '0'],
    ['SCHEDULER_HTTP_PORT', '70000'],
    ['LOG_LEVEL', 'loud'],
    ['KAFKA_TOPIC_DLQ', 'bad topic'],
  ])('rejects %s=%s with one line naming the variable', (name, value) => {
    expect(() => loadConfig('scheduler', { [name]: value })).toThrow(ConfigError);
    try {
      loadConfig('scheduler', { [name]: value });
    } catch (error) {
      const message = (error as Error).message;
      expect(message.startsWith(`Invalid configuration: ${name} `)).toBe(true);
      expect(message).not.toContain('\n');
      expect(message).toContain(JSON.stringify(value));
    }
  });

  it('knows every variable of contract §7', () => {
    expect(Object.keys(ENV_DEFAULTS).sort()).toEqual(
      [
        'DATABASE_URL',
        'KAFKA_BROKERS',
        'KAFKA_CLIENT_ID',
        'KAFKA_CONSUMER_GROUP',
        'VALUATION_JOB_POLICY',
        'VALUATION_RETRY_BACKOFF_SECONDS',
        'VALUATION_RETRY_BACKOFF_MULTIPLIER',
        'VALUATION_RETRY_BACKOFF_MAX_SECONDS',
        'VALUATION_RETRY_MAX_ATTEMPTS',
        'VALUATION_ALERT_ATTEMPT_THRESHOLD',
        'VALUATION_SCHEDULER_POLL_INTERVAL_MS',
        'VALUATION_SCHEDULER_BATCH_SIZE',
        'VALUATION_SCHEDULER_MAX_IN_FLIGHT',
        'VALUATION_CLAIM_LEASE_SECONDS',
        'BUSINESS_CALENDAR_CODE',
        'CALCULATOR_HTTP_PORT',
        'SCHEDULER_HTTP_PORT',
        'LOG_LEVEL',
        // contract §10 and the settings of issue 10
        'DATABASE_PASSWORD_FILE',
        'DATABASE_STATEMENT_TIMEOUT_MS',
        'DATABASE_LOCK_TIMEOUT_MS',
        'KAFKA_TOPIC_REPLICATION_FACTOR',
        'VALUATION_LEADER_LEASE_SECONDS',
        'VALUATION_RETENTION_HOURS',
        'VALUATION_ATTEMPT_HISTORY_DAYS',
        'CALCULATOR_STALL_SECONDS',
        'HTTP_HOST',
        'KAFKA_TOPIC_PARTITIONS',
        'KAFKA_TOPIC_VALUATION_REQUIRED',
        'KAFKA_TOPIC_MARKET_PRICE_PERSISTED',
        'KAFKA_TOPIC_FX_RATE_PERSISTED',
        'KAFKA_TOPIC_SNAPSHOT_PERSISTED',
        'KAFKA_TOPIC_DLQ',
        // contract §10: Kafka TLS and SASL
        'KAFKA_SSL',
        'KAFKA_SSL_CA_FILE',
        'KAFKA_SSL_CERT_FILE',
        'KAFKA_SSL_KEY_FILE',
        'KAFKA_SASL_MECHANISM',
        'KAFKA_SASL_USERNAME',
        'KAFKA_SASL_PASSWORD',
        'KAFKA_SASL_PASSWORD_FILE',
        // contract §9: the operators' API
        'OPERATOR_TOKENS',
        'OPERATOR_TOKENS_FILE',
      ].sort(),
    );
  });
});
