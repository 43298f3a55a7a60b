import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ConfigError, loadConfig } from './index';

/** Contract §10: Kafka TLS and SASL settings, their files read at boot, the password never shown. */
describe('Kafka TLS and SASL configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-security-'));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const PASSWORD = 'Sup3r-s3cret-pw';
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const errorOf = (env: Record<string, string>) => {
    try {
      loadConfig('calculator', env);
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
    throw new Error('expected a ConfigError');
  };

  it('is plaintext without SASL by default', () => {
    const { kafka } = loadConfig('calculator', {});
    expect(kafka.tls).toBeUndefined();
    expect(kafka.sasl).toBeUndefined();
  });

  it('reads the CA, a client certificate and the password file at boot', () => {
    const { kafka } = loadConfig('calculator', {
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: file('ca.pem', PEM),
      KAFKA_SSL_CERT_FILE: file('client.pem', PEM),
      KAFKA_SSL_KEY_FILE: file('client.key', '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n'),
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'valuation',
      KAFKA_SASL_PASSWORD_FILE: file('password', `${PASSWORD}\n`),
    });
    expect(kafka.tls).toEqual({ ca: PEM, cert: PEM, key: expect.stringContaining('PRIVATE KEY') });
    expect(kafka.sasl).toMatchObject({ mechanism: 'scram-sha-512', username: 'valuation' });
    expect(kafka.sasl?.password).toBe(PASSWORD);
    expect(kafka.sasl?.passwordVariable).toBe('KAFKA_SASL_PASSWORD_FILE');
  });

  it('uses the system CAs with KAFKA_SSL=true alone, and takes the password from the variable', () => {
    const { kafka } = loadConfig('scheduler', {
      KAFKA_SSL: 'true',
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: PASSWORD,
    });
    expect(kafka.tls).toEqual({});
    expect(kafka.sasl).toMatchObject({ mechanism: 'plain', passwordVariable: 'KAFKA_SASL_PASSWORD' });
  });

  it('keeps the password out of a logged or serialised config', () => {
    const config = loadConfig('calculator', {
      KAFKA_SASL_MECHANISM: 'scram-sha-256',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD: PASSWORD,
    });
    expect(JSON.stringify(config)).not.toContain(PASSWORD);
    expect(inspect(config, { depth: 10 })).not.toContain(PASSWORD);
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ['a bad KAFKA_SSL', { KAFKA_SSL: 'yes' }, /^Invalid configuration: KAFKA_SSL must be 'true' or 'false'/],
    [
      'an unknown mechanism',
      { KAFKA_SASL_MECHANISM: 'gssapi' },
      /^Invalid configuration: KAFKA_SASL_MECHANISM must be 'none', 'plain', 'scram-sha-256' or 'scram-sha-512'/,
    ],
    [
      'a mechanism without a user',
      { KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_PASSWORD: PASSWORD },
      /^Invalid configuration: KAFKA_SASL_USERNAME is required with KAFKA_SASL_MECHANISM=plain$/,
    ],
    [
      'a mechanism without a password',
      { KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u' },
      /^Invalid configuration: KAFKA_SASL_PASSWORD is required with KAFKA_SASL_MECHANISM=scram-sha-512/,
    ],
    [
      'both the password and its file',
      {
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: PASSWORD,
        KAFKA_SASL_PASSWORD_FILE: '/nonexistent',
      },
      /^Invalid configuration: KAFKA_SASL_PASSWORD_FILE and KAFKA_SASL_PASSWORD are both set; set one$/,
    ],
    [
      'a password without a mechanism',
      { KAFKA_SASL_PASSWORD: PASSWORD },
      /^Invalid configuration: KAFKA_SASL_PASSWORD is set but KAFKA_SASL_MECHANISM is none$/,
    ],
    [
      'a missing password file',
      {
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD_FILE: '/nonexistent/pw',
      },
      /^Invalid configuration: KAFKA_SASL_PASSWORD_FILE names a file that cannot be read \("\/nonexistent\/pw": ENOENT\)$/,
    ],
    [
      'a missing CA file',
      { KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' },
      /^Invalid configuration: KAFKA_SSL_CA_FILE names a file that cannot be read/,
    ],
    [
      'a CA file without TLS',
      { KAFKA_SSL_CA_FILE: '/etc/hostname' },
      /^Invalid configuration: KAFKA_SSL_CA_FILE is set but KAFKA_SSL is false/,
    ],
    [
      'a certificate without its key',
      { KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: '/etc/hostname' },
      /^Invalid configuration: KAFKA_SSL_KEY_FILE is required with a client certificate/,
    ],
  ])('refuses %s with one line naming the variable and not the password', (_what, env, expected) => {
    const message = errorOf(env);
    expect(message).toMatch(expected);
    expect(message).not.toContain('\n');
    expect(message).not.toContain(PASSWORD);
  });

  it('never echoes a file it cannot use', () => {
    const message = errorOf({ KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: file('not-pem', `${PASSWORD}\n`) });
    expect(message).toMatch(/^Invalid configuration: KAFKA_SSL_CA_FILE names a file that holds no PEM block/);
    expect(message).not.toContain(PASSWORD);
    const empty = errorOf({
      KAFKA_SASL_MECHANISM: 'plain',
      KAFKA_SASL_USERNAME: 'u',
      KAFKA_SASL_PASSWORD_FILE: file('empty', '\n'),
    });
    expect(empty).toBe('Invalid configuration: KAFKA_SASL_PASSWORD_FILE names an empty file');
  });
});
