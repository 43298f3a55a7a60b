import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../scripts/lib/managed-process';

const KAFKA_SH = join(REPO_ROOT, 'scripts/kafka/kafka.sh');

/**
 * kafka.sh for the suite's broker only: KAFKA_STATE_DIR is removed so that a second broker running
 * beside it (the benchmark's, with its own state directory) can never be the one stopped.
 */
function kafkaSh(command: 'up' | 'down' | 'status', brokers: string): { status: number | null; out: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_BROKERS: brokers };
  delete env.KAFKA_STATE_DIR;
  delete env.KAFKA_PORT;
  const r = spawnSync('bash', [KAFKA_SH, command], { env, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** True when the broker at `brokers` is the one scripts/kafka/kafka.sh manages (so it may restart it). */
export function brokerIsOurs(brokers: string): boolean {
  return kafkaSh('status', brokers).status === 0;
}

export function brokerDown(brokers: string): void {
  const r = kafkaSh('down', brokers);
  if (r.status !== 0) throw new Error(`kafka.sh down failed: ${r.out}`);
}

export function brokerUp(brokers: string): void {
  const r = kafkaSh('up', brokers);
  if (r.status !== 0) throw new Error(`kafka.sh up failed: ${r.out}`);
}

function pgCluster(action: 'stop' | 'start'): void {
  const version = readdirSync('/etc/postgresql').sort().pop();
  if (!version) throw new Error('no PostgreSQL cluster under /etc/postgresql');
  // stop uses pg_ctlcluster's default "fast" mode: every client is disconnected at once, as in a crash.
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', action], { stdio: 'pipe' });
}

/**
 * One PostgreSQL restart with an outage of `outageMs` in the middle (stop, wait, start): long enough
 * that every process sees failed queries and failed connection attempts, not just one dropped socket.
 * Returns when the stop was issued and when the start had completed (epoch ms).
 */
export async function restartPostgres(outageMs: number): Promise<{ stoppingAt: number; upAt: number }> {
  const stoppingAt = Date.now();
  pgCluster('stop');
  await new Promise((r) => setTimeout(r, outageMs));
  pgCluster('start');
  return { stoppingAt, upAt: Date.now() };
}
