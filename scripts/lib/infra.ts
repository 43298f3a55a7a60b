import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'pg';
import { runMigrations } from '@app/persistence';
import { REPO_ROOT } from './managed-process';

/** Starts the local broker unless one answers; returns whether this call started it. */
export function ensureBroker(brokers: string): boolean {
  const answers = spawnSync('node', [join(REPO_ROOT, 'scripts/kafka/wait-ready.js'), brokers, '3'], {
    stdio: 'ignore',
  });
  if (answers.status === 0) return false;
  execFileSync('bash', [join(REPO_ROOT, 'scripts/kafka/kafka.sh'), 'up'], { stdio: 'inherit' });
  return true;
}

export function stopBroker(): void {
  execFileSync('bash', [join(REPO_ROOT, 'scripts/kafka/kafka.sh'), 'down'], { stdio: 'inherit' });
}

/** A fresh database: dropped if it exists, created and migrated. */
export async function freshDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
  await runMigrations(url);
}
