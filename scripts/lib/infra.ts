import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
// Relative, not @app/persistence: jest's global setups load this file without the path aliases.
import { runMigrations } from '../../libs/persistence/src/data-source';
import { REPO_ROOT } from './managed-process';

/**
 * The local infrastructure the demo, the benchmark and the test suites share: the broker that
 * scripts/kafka/kafka.sh manages, and databases of the PostgreSQL named in a URL.
 */

/** Whether a broker answers at `brokers` within a few seconds. */
export function brokerAnswers(brokers: string): boolean {
  const r = spawnSync('node', [join(REPO_ROOT, 'scripts/kafka/wait-ready.js'), brokers, '3'], {
    stdio: 'ignore',
  });
  return r.status === 0;
}

/**
 * Starts the local broker unless one answers (kafka.sh says so as it starts it); returns whether this
 * call started it. `env` is what kafka.sh sees (its KAFKA_STATE_DIR and ports pick the broker).
 */
export function ensureBroker(brokers: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (brokerAnswers(brokers)) return false;
  execFileSync('bash', [join(REPO_ROOT, 'scripts/kafka/kafka.sh'), 'up'], { stdio: 'inherit', env });
  return true;
}

export function stopBroker(env: NodeJS.ProcessEnv = process.env): void {
  execFileSync('bash', [join(REPO_ROOT, 'scripts/kafka/kafka.sh'), 'down'], { stdio: 'inherit', env });
}

/** Runs `work` on a connection to the server's `postgres` database (to create and drop others). */
async function onServer<T>(url: string, work: (admin: Client) => Promise<T>): Promise<T> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Throws one clear line, with the command that starts it, when PostgreSQL does not answer. */
export async function assertPostgresReachable(url: string): Promise<void> {
  try {
    await onServer(url, async () => undefined);
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${new URL(url).host} (${error instanceof Error ? error.message : String(error)}). ` +
        'Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
    );
  }
}

/** A fresh database: dropped if it exists, created and migrated. */
export async function freshDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await onServer(url, (admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
  await runMigrations(url);
}

/** Replaces the database named in `url` with a copy of `template` (whoever is still connected). */
export async function copyDatabase(url: string, template: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  await onServer(url, async (admin) => {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`);
  });
}
