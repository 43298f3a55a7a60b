import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../scripts/lib/managed-process';
import { assertPostgresReachable, ensureBroker, freshDatabase } from '../../scripts/lib/infra';

/** Set when this run started the broker, so the teardown stops it again and leaves anyone else's alone. */
export const FAULTS_STARTED_BROKER_ENV = 'VALUATION_FAULTS_STARTED_BROKER';

/** kafka.sh's environment for the suite's broker: never the benchmark's (its own state directory). */
export function faultsBrokerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.KAFKA_STATE_DIR;
  return env;
}

/**
 * The fault suite's real infrastructure: PostgreSQL must answer; the template database every scenario
 * copies is recreated and migrated; the local broker is started only when none answers. Nothing is
 * built here: `npm run test:faults` builds first, and the scenarios run the built apps.
 */
export default async function globalSetup(): Promise<void> {
  process.env.TZ = 'UTC';
  const url = process.env.FAULTS_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/valuation_faults_test';
  const brokers = (process.env.KAFKA_BROKERS ??= '127.0.0.1:9092');
  const name = new URL(url).pathname.slice(1);
  if (!/test/i.test(name))
    throw new Error(`Refusing to run faults against "${name}": its name must contain "test".`);

  await assertPostgresReachable(url);
  const template = new URL(url);
  template.pathname = `/${name}_template`;
  await freshDatabase(template.toString());

  for (const app of ['calculator', 'scheduler'])
    if (!existsSync(join(REPO_ROOT, `dist/apps/${app}/src/main.js`)))
      throw new Error(
        `dist/apps/${app} is missing: run the suite with \`npm run test:faults\` (it builds first).`,
      );

  if (ensureBroker(brokers, faultsBrokerEnv())) process.env[FAULTS_STARTED_BROKER_ENV] = '1';
}
