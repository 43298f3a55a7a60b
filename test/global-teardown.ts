import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { STARTED_BROKER_ENV } from './global-setup';

/** Stops the Kafka broker only if this test run started it. */
export default function globalTeardown(): void {
  if (process.env[STARTED_BROKER_ENV] !== '1') return;
  execFileSync('bash', [join(__dirname, '..', 'scripts/kafka/kafka.sh'), 'down'], { stdio: 'inherit' });
}
