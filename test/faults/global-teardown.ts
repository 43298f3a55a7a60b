import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { FAULTS_STARTED_BROKER_ENV } from './global-setup';

/** Stops the Kafka broker only if this run started it. */
export default function globalTeardown(): void {
  if (process.env[FAULTS_STARTED_BROKER_ENV] !== '1') return;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.KAFKA_STATE_DIR;
  execFileSync('bash', [join(__dirname, '..', '..', 'scripts/kafka/kafka.sh'), 'down'], {
    stdio: 'inherit',
    env,
  });
}
