import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const KAFKA_SH = join(ROOT, 'scripts', 'kafka', 'kafka.sh');
const STATE = join(ROOT, '.kafka-sasl');

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** The local SASL_SSL broker (`kafka.sh sasl-up`): where it listens and the files a client needs. */
export interface SaslBroker {
  brokers: string;
  caFile: string;
  username: string;
  passwordFile: string;
  /** The user's password, for asserting that no output contains it. */
  password: string;
  /** The environment variables that point an app at this broker with `mechanism`. */
  env(mechanism: SaslMechanism): Record<string, string>;
  /** Stops the broker if `ensureSaslBroker` started it; leaves one that was already running alone. */
  release(): Promise<void>;
}

async function kafkaSh(command: string, timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout, stderr } = await run('bash', [KAFKA_SH, command], {
      cwd: ROOT,
      timeout: timeoutMs,
      env: { ...process.env, KAFKA_READY_TIMEOUT: '150' },
    });
    return { ok: true, output: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message };
  }
}

/**
 * The SASL_SSL broker, started (secrets, keystore and SCRAM users made on the first start) unless it
 * runs already. Starting takes 10–40 s on a busy machine: call it from a beforeAll with a long timeout.
 */
export async function ensureSaslBroker(): Promise<SaslBroker> {
  const running = (await kafkaSh('sasl-status', 30_000)).ok;
  if (!running) {
    const up = await kafkaSh('sasl-up', 200_000);
    if (!up.ok) {
      // It may have started before failing its readiness check; sasl-up stops what it started, but be sure.
      await kafkaSh('sasl-down', 60_000);
      throw new Error(`kafka.sh sasl-up failed:\n${up.output}`);
    }
  }
  const caFile = join(STATE, 'ca.pem');
  const passwordFile = join(STATE, 'valuation.password');
  const brokers = `127.0.0.1:${process.env.KAFKA_SASL_PORT ?? '29092'}`;
  let released = false;
  return {
    brokers,
    caFile,
    username: 'valuation',
    passwordFile,
    password: readFileSync(passwordFile, 'utf8').trim(),
    env: (mechanism) => ({
      KAFKA_BROKERS: brokers,
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: caFile,
      KAFKA_SASL_MECHANISM: mechanism,
      KAFKA_SASL_USERNAME: 'valuation',
      KAFKA_SASL_PASSWORD_FILE: passwordFile,
    }),
    release: async () => {
      if (running || released) return;
      released = true;
      const down = await kafkaSh('sasl-down', 60_000);
      if (!down.ok) throw new Error(`kafka.sh sasl-down failed:\n${down.output}`);
    },
  };
}
