import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { runMigrations } from '../libs/persistence/src/data-source';
import { assertPostgresReachable, copyDatabase, ensureBroker } from '../scripts/lib/infra';

/** Matches `maxWorkers` in jest.config.js: one database copy per worker. */
const WORKERS = 2;
/** Set when this run started the broker, so the teardown stops it again (and leaves others' alone). */
export const STARTED_BROKER_ENV = 'VALUATION_TEST_STARTED_BROKER';

/**
 * Real infrastructure for every run: PostgreSQL must answer, the dedicated test database is created
 * and migrated (a database whose name lacks "test" is refused), each worker gets `<db>_wN`, a fresh
 * copy of it (setup-env points it there), and the local Kafka broker is started when none answers at
 * KAFKA_BROKERS.
 */
export default async function globalSetup(): Promise<void> {
  process.env.TZ = 'UTC';
  const url = (process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/valuation_test');
  const brokers = (process.env.KAFKA_BROKERS ??= '127.0.0.1:9092');
  const dbName = new URL(url).pathname.slice(1);
  if (!/test/i.test(dbName)) {
    throw new Error(`Refusing to run tests against database "${dbName}": its name must contain "test".`);
  }
  await assertPostgresReachable(url);
  await runMigrations(url);
  for (let w = 1; w <= WORKERS; w++) {
    const copy = new URL(url);
    copy.pathname = `/${dbName}_w${w}`;
    await copyDatabase(copy.toString(), dbName);
  }
  if (ensureBroker(brokers)) process.env[STARTED_BROKER_ENV] = '1';
  // Some specs run the built apps as processes (a wrong Kafka password, no secret in any output):
  // built once here, before the workers start, so no two specs rebuild dist/ under each other.
  execFileSync('npm', ['run', '-s', 'build'], { cwd: join(__dirname, '..'), stdio: 'inherit' });
}
