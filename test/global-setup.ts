import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import { runMigrations } from '../libs/persistence/src/data-source';

const ROOT = join(__dirname, '..');
/** Matches `maxWorkers` in jest.config.js: one database copy per worker. */
const WORKERS = 2;
/** Set when this run started the broker, so the teardown stops it again (and leaves others' alone). */
export const STARTED_BROKER_ENV = 'VALUATION_TEST_STARTED_BROKER';

async function postgresAnswers(url: string): Promise<string | null> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** Each worker gets `<db>_wN`, a fresh copy of the migrated template (setup-env points it there). */
async function cloneForWorkers(url: string, workers: number): Promise<void> {
  const admin = new URL(url);
  const template = admin.pathname.slice(1);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    for (let w = 1; w <= workers; w++) {
      await client.query(`DROP DATABASE IF EXISTS "${template}_w${w}" WITH (FORCE)`);
      await client.query(`CREATE DATABASE "${template}_w${w}" TEMPLATE "${template}"`);
    }
  } finally {
    await client.end();
  }
}

/**
 * Real infrastructure for every run: PostgreSQL must answer, the dedicated test database is created
 * and migrated (a database whose name lacks "test" is refused), and the local Kafka broker is started
 * when none answers at KAFKA_BROKERS.
 */
export default async function globalSetup(): Promise<void> {
  process.env.TZ = 'UTC';
  const url = (process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/valuation_test');
  const brokers = (process.env.KAFKA_BROKERS ??= '127.0.0.1:9092');
  const dbName = new URL(url).pathname.slice(1);
  if (!/test/i.test(dbName)) {
    throw new Error(`Refusing to run tests against database "${dbName}": its name must contain "test".`);
  }
  const down = await postgresAnswers(url);
  if (down) {
    throw new Error(
      `PostgreSQL is not reachable at ${new URL(url).host} (${down}). Start it with: ` +
        'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
    );
  }
  await runMigrations(url);
  await cloneForWorkers(url, WORKERS);

  try {
    execFileSync('node', [join(ROOT, 'scripts/kafka/wait-ready.js'), brokers, '3'], { stdio: 'ignore' });
  } catch {
    console.log(`\nNo Kafka broker answers at ${brokers}: starting the local one (npm run kafka:up)…`);
    execFileSync('bash', [join(ROOT, 'scripts/kafka/kafka.sh'), 'up'], { stdio: 'inherit' });
    process.env[STARTED_BROKER_ENV] = '1';
  }
}
