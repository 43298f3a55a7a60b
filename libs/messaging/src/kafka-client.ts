import { Logger } from '@nestjs/common';
import type { ConnectionOptions } from 'node:tls';
import { Kafka, KafkaConfig, logLevel, LogEntry } from 'kafkajs';
import type { KafkaSettings } from '@app/config';

const LEVEL_NAMES: Record<number, 'error' | 'warn' | 'log' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'log',
  [logLevel.DEBUG]: 'debug',
};

type Security = Pick<KafkaSettings, 'tls' | 'sasl'>;

/**
 * The `ssl` and `sasl` options of a kafkajs client for these settings (contract §10): `ssl: true`
 * (the system's CAs) or the PEMs read from the files; SASL PLAIN or SCRAM with the configured user.
 */
export function kafkaSecurityOptions(settings: Security): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const options: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  const tls = settings.tls;
  if (tls) {
    const pems: ConnectionOptions = {};
    if (tls.ca) pems.ca = tls.ca;
    if (tls.cert && tls.key) Object.assign(pems, { cert: tls.cert, key: tls.key });
    options.ssl = Object.keys(pems).length ? pems : true;
  }
  const sasl = settings.sasl;
  if (sasl) {
    const { username, password } = sasl;
    options.sasl =
      sasl.mechanism === 'plain'
        ? { mechanism: 'plain', username, password }
        : sasl.mechanism === 'scram-sha-256'
          ? { mechanism: 'scram-sha-256', username, password }
          : { mechanism: 'scram-sha-512', username, password };
  }
  return options;
}

/** Thrown at boot when the brokers refuse the configured credentials; its message is the one line to print. */
export class KafkaStartupError extends Error {
  override readonly name = 'KafkaStartupError';
}

/** The SASL authentication error in a kafkajs error or its causes (a retrier wraps it), if any. */
function saslFailure(error: unknown): Error | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 10; depth++) {
    if (e.name === 'KafkaJSSASLAuthenticationError') return e;
    e = (e as Error & { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The one line saying why the brokers refused this process, when they did: a wrong user or
 * password. Names the mechanism, the user and the variables to check; never the password.
 */
export function kafkaAuthenticationFailure(error: unknown, settings: Security): string | undefined {
  if (!saslFailure(error)) return undefined;
  const sasl = settings.sasl;
  if (!sasl) return 'Kafka authentication failed: the brokers require SASL; set KAFKA_SASL_MECHANISM';
  return (
    `Kafka authentication failed (SASL ${sasl.mechanism.toUpperCase()} as user ${sasl.username}): ` +
    `check KAFKA_SASL_USERNAME and ${sasl.passwordVariable}`
  );
}

/** One kafkajs client per process, logging through Nest's logger (kafkajs INFO chatter is demoted). */
export function createKafka(settings: Pick<KafkaSettings, 'brokers' | 'clientId' | 'tls' | 'sasl'>): Kafka {
  const logger = new Logger('kafkajs');
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    ...kafkaSecurityOptions(settings),
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 5000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...extra } = log;
        logger[LEVEL_NAMES[level] ?? 'log'](`${message} ${JSON.stringify(extra)}`);
      },
  });
}
