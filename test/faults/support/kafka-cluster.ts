import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../scripts/lib/managed-process';

const KAFKA_SH = join(REPO_ROOT, 'scripts/kafka/kafka.sh');

/**
 * The three-node KRaft cluster of `kafka.sh cluster-*` (node N = node.id N on 127.0.0.1:1909(1+N)),
 * beside the suite's single broker, which it never touches: for the scenarios that need replication.
 */
export const CLUSTER_NODES = [1, 2, 3] as const;
export const CLUSTER_BROKERS = CLUSTER_NODES.map((n) => `127.0.0.1:${19091 + n}`).join(',');

function kafkaSh(...args: string[]): string {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The cluster's ports and state directory are its own; nothing of the single broker's applies.
  for (const name of ['KAFKA_STATE_DIR', 'KAFKA_PORT', 'KAFKA_CONTROLLER_PORT', 'KAFKA_BROKERS'])
    delete env[name];
  const r = spawnSync('bash', [KAFKA_SH, ...args], { env, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`.trim();
  if (r.status !== 0) throw new Error(`kafka.sh ${args.join(' ')} failed (${r.status}): ${out}`);
  return out;
}

/** Starts whichever node is not running and returns once all three are registered. */
export function clusterUp(): string {
  return kafkaSh('cluster-up');
}

export function clusterDown(): string {
  return kafkaSh('cluster-down');
}

/** SIGKILL to node `n` (no controlled shutdown), as a crashed machine. */
export function clusterKill(n: number): string {
  return kafkaSh('cluster-kill', String(n));
}
