import { stopBroker } from '../scripts/lib/infra';
import { STARTED_BROKER_ENV } from './global-setup';

/** Stops the Kafka broker only if this test run started it. */
export default function globalTeardown(): void {
  if (process.env[STARTED_BROKER_ENV] === '1') stopBroker();
}
