import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { runMigrations } from '../../libs/persistence/src/data-source';

const ROOT = join(__dirname, '..', '..');
/** Set when this run started the broker, so the teardown stops it again and leaves anyone else's alone. */
export const FAULTS_STARTED_BROKER_ENV = 'VALUATION_FAULTS_STARTED_BROKER';

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

  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${admin.host} (${error instanceof Error ? error.message : String(error)}). ` +
        'Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
    );
  }
  const template = `${name}_template`;
  try {
    await client.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
  const templateUrl = new URL(url);
  templateUrl.pathname = `/${template}`;
  await runMigrations(templateUrl.toString());

  for (const app of ['calculator', 'scheduler'])
    if (!existsSync(join(ROOT, `dist/apps/${app}/src/main.js`)))
      throw new Error(
        `dist/apps/${app} is missing: run the suite with \`npm run test:faults\` (it builds first).`,
      );

  const answers = spawnSync('node', [join(ROOT, 'scripts/kafka/wait-ready.js'), brokers, '3'], {
    stdio: 'ignore',
  });
  if (answers.status !== 0) {
    console.log(`\nNo Kafka broker answers at ${brokers}: starting the local one (npm run kafka:up)…`);
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.KAFKA_STATE_DIR; // never the benchmark's broker
    execFileSync('bash', [join(ROOT, 'scripts/kafka/kafka.sh'), 'up'], { stdio: 'inherit', env });
    process.env[FAULTS_STARTED_BROKER_ENV] = '1';
  }
}
