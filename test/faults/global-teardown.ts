import { stopBroker } from '../../scripts/lib/infra';
import { FAULTS_STARTED_BROKER_ENV, faultsBrokerEnv } from './global-setup';

/** Stops the Kafka broker only if this run started it. */
export default function globalTeardown(): void {
  if (process.env[FAULTS_STARTED_BROKER_ENV] === '1') stopBroker(faultsBrokerEnv());
}
