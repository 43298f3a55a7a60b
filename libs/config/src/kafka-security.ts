import { readFileSync } from 'node:fs';

/** The SASL mechanisms kafkajs 2.2.4 implements that the project supports (contract §10). */
export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** TLS to the brokers. Without a CA file the system's trust store is used; cert and key come together. */
export interface KafkaTlsSettings {
  /** PEM contents of `KAFKA_SSL_CA_FILE`, read at boot. */
  ca?: string;
  /** PEM contents of `KAFKA_SSL_CERT_FILE` and `KAFKA_SSL_KEY_FILE`: a client certificate (mutual TLS). */
  cert?: string;
  key?: string;
}

/**
 * SASL credentials. `password` is not enumerable: `JSON.stringify`, `util.inspect` and a logged
 * config never show it; read it only to hand it to the client.
 */
export interface KafkaSaslSettings {
  mechanism: KafkaSaslMechanism;
  username: string;
  readonly password: string;
  /** The variable the password came from, for messages: KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE. */
  passwordVariable: 'KAFKA_SASL_PASSWORD' | 'KAFKA_SASL_PASSWORD_FILE';
}

export interface KafkaSecurityEnv {
  KAFKA_SSL: boolean;
  KAFKA_SSL_CA_FILE: string;
  KAFKA_SSL_CERT_FILE: string;
  KAFKA_SSL_KEY_FILE: string;
  KAFKA_SASL_MECHANISM: 'none' | KafkaSaslMechanism;
  KAFKA_SASL_USERNAME: string;
  KAFKA_SASL_PASSWORD: string;
  KAFKA_SASL_PASSWORD_FILE: string;
}

/** A bad Kafka security setting. The message names the variable and never holds a password or a file's content. */
export class KafkaSecurityError extends Error {
  constructor(
    readonly variable: keyof KafkaSecurityEnv,
    detail: string,
  ) {
    super(detail);
  }
}

type Reader = (path: string) => string;
const readUtf8: Reader = (path) => readFileSync(path, 'utf8');

function readFile(variable: keyof KafkaSecurityEnv, path: string, read: Reader): string {
  try {
    return read(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new KafkaSecurityError(
      variable,
      `names a file that cannot be read (${JSON.stringify(path)}: ${code})`,
    );
  }
}

function readPem(variable: keyof KafkaSecurityEnv, path: string, read: Reader): string {
  const pem = readFile(variable, path, read);
  if (!pem.includes('-----BEGIN ')) {
    throw new KafkaSecurityError(variable, `names a file that holds no PEM block (${JSON.stringify(path)})`);
  }
  return pem;
}

/** The TLS settings of the environment, files read; undefined when `KAFKA_SSL` is false. */
export function parseKafkaTls(e: KafkaSecurityEnv, read: Reader = readUtf8): KafkaTlsSettings | undefined {
  const files = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const;
  if (!e.KAFKA_SSL) {
    const stray = files.find((name) => e[name] !== '');
    if (stray) throw new KafkaSecurityError(stray, 'is set but KAFKA_SSL is false (set KAFKA_SSL=true)');
    return undefined;
  }
  if ((e.KAFKA_SSL_CERT_FILE === '') !== (e.KAFKA_SSL_KEY_FILE === '')) {
    const missing = e.KAFKA_SSL_CERT_FILE === '' ? 'KAFKA_SSL_CERT_FILE' : 'KAFKA_SSL_KEY_FILE';
    throw new KafkaSecurityError(
      missing,
      'is required with a client certificate (cert and key come together)',
    );
  }
  const tls: KafkaTlsSettings = {};
  if (e.KAFKA_SSL_CA_FILE) tls.ca = readPem('KAFKA_SSL_CA_FILE', e.KAFKA_SSL_CA_FILE, read);
  if (e.KAFKA_SSL_CERT_FILE) {
    tls.cert = readPem('KAFKA_SSL_CERT_FILE', e.KAFKA_SSL_CERT_FILE, read);
    tls.key = readPem('KAFKA_SSL_KEY_FILE', e.KAFKA_SSL_KEY_FILE, read);
  }
  return tls;
}

/**
 * The SASL settings of the environment; undefined for mechanism `none`. The password comes from
 * exactly one of `KAFKA_SASL_PASSWORD` and `KAFKA_SASL_PASSWORD_FILE` (the file's content without its
 * trailing line break); both set is an error, so a stale one can never win unnoticed.
 */
export function parseKafkaSasl(e: KafkaSecurityEnv, read: Reader = readUtf8): KafkaSaslSettings | undefined {
  if (e.KAFKA_SASL_MECHANISM === 'none') {
    const stray = (['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE'] as const).find(
      (name) => e[name] !== '',
    );
    if (stray) throw new KafkaSecurityError(stray, 'is set but KAFKA_SASL_MECHANISM is none');
    return undefined;
  }
  const needs = `is required with KAFKA_SASL_MECHANISM=${e.KAFKA_SASL_MECHANISM}`;
  if (e.KAFKA_SASL_USERNAME === '') throw new KafkaSecurityError('KAFKA_SASL_USERNAME', needs);
  if (e.KAFKA_SASL_PASSWORD !== '' && e.KAFKA_SASL_PASSWORD_FILE !== '') {
    throw new KafkaSecurityError('KAFKA_SASL_PASSWORD_FILE', 'and KAFKA_SASL_PASSWORD are both set; set one');
  }
  let password = e.KAFKA_SASL_PASSWORD;
  let passwordVariable: KafkaSaslSettings['passwordVariable'] = 'KAFKA_SASL_PASSWORD';
  if (e.KAFKA_SASL_PASSWORD_FILE !== '') {
    passwordVariable = 'KAFKA_SASL_PASSWORD_FILE';
    password = readFile(passwordVariable, e.KAFKA_SASL_PASSWORD_FILE, read).replace(/\r?\n$/, '');
    if (password === '') throw new KafkaSecurityError(passwordVariable, 'names an empty file');
  }
  if (password === '') {
    throw new KafkaSecurityError('KAFKA_SASL_PASSWORD', `${needs} (or KAFKA_SASL_PASSWORD_FILE)`);
  }
  const sasl = { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME, passwordVariable };
  Object.defineProperty(sasl, 'password', { value: password, enumerable: false });
  return sasl as KafkaSaslSettings;
}
