import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import { REPO_ROOT } from '../lib/managed-process';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  postgres: string;
  postgresSettings: Record<string, string>;
  kafka: string;
  java: string;
  packages: Record<string, string>;
}

// graphile-worker and pg-boss: the peer scenario's queues.
const PACKAGES = [
  '@nestjs/core',
  'typeorm',
  'pg',
  'kafkajs',
  'decimal.js',
  'zod',
  'typescript',
  'graphile-worker',
  'pg-boss',
];
const PG_SETTINGS = [
  'shared_buffers',
  'max_connections',
  'synchronous_commit',
  'fsync',
  'wal_level',
  'max_wal_size',
  'checkpoint_timeout',
  'work_mem',
  'autovacuum',
  'shared_preload_libraries',
];

function versionOf(pkg: string): string {
  try {
    const file = join(REPO_ROOT, 'node_modules', pkg, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return '?';
  }
}

/** What the numbers were measured on: the machine, the versions, PostgreSQL's settings. */
export async function machineInfo(db: Client): Promise<MachineInfo> {
  const { rows } = await db.query<{ v: string }>('SELECT version() AS v');
  const settings: Record<string, string> = {};
  for (const name of PG_SETTINGS) {
    const { rows: s } = await db.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name]);
    settings[name] = s[0].v;
  }
  const libs = join(REPO_ROOT, '.kafka/libs');
  const kafkaJar = existsSync(libs)
    ? readdirSync(libs).find((f) => /^kafka_[\d.]+-[\d.]+\.jar$/.test(f))
    : undefined;
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' }); // it prints to stderr
  return {
    cpus: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
    cpuModel: cpus()[0]?.model.trim() ?? '?',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    postgres: rows[0].v.split(' on ')[0],
    postgresSettings: settings,
    kafka: kafkaJar
      ? `Apache Kafka ${kafkaJar.replace(/^kafka_[\d.]+-/, '').replace('.jar', '')} (KRaft, single node)`
      : '?',
    java: (java.stderr || java.stdout || '?').split('\n')[0],
    packages: Object.fromEntries(PACKAGES.map((p) => [p, versionOf(p)])),
  };
}
