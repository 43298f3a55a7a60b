import { Client } from 'pg';
import type { DatabaseConnection } from '@app/config';
import { DataSource, DataSourceOptions } from 'typeorm';
import { InitialSchema1764300000000 } from './migrations/1764300000000-initial-schema';
import { OutboxRelayLease1764400000000 } from './migrations/1764400000000-outbox-relay-lease';
import { SchedulerLeaderLease1764500000000 } from './migrations/1764500000000-scheduler-leader-lease';
import { RetentionIndexes1764600000000 } from './migrations/1764600000000-retention-indexes';
import { OperatorAudit1764800000000 } from './migrations/1764800000000-operator-audit';
import { JobAttempts1764900000000 } from './migrations/1764900000000-job-attempts';
import { Revaluations1765000000000 } from './migrations/1765000000000-revaluations';
import { OutboxFillfactor1765100000000 } from './migrations/1765100000000-outbox-fillfactor';
import { OutboxPayloadJson1765200000000 } from './migrations/1765200000000-outbox-payload-json';

/** Migrations are listed explicitly (no globs) so the built and the test runs see the same set. */
export const MIGRATIONS = [
  InitialSchema1764300000000,
  OutboxRelayLease1764400000000,
  SchedulerLeaderLease1764500000000,
  RetentionIndexes1764600000000,
  OperatorAudit1764800000000,
  JobAttempts1764900000000,
  Revaluations1765000000000,
  OutboxFillfactor1765100000000,
  OutboxPayloadJson1765200000000,
];

/**
 * What a connection is opened to: the configuration's {@link DatabaseConnection} (the apps, the
 * migration tool: `DATABASE_PASSWORD_FILE` applied, `sslmode` and friends kept), or a plain URL (specs
 * and scripts on the local server).
 */
export type DatabaseTarget = DatabaseConnection | string;

/** The connection string node-postgres is given: it carries the password, so it is never logged. */
export function connectionStringOf(target: DatabaseTarget): string {
  return typeof target === 'string' ? target : target.connectionString();
}

/** How long a session may sit idle inside a transaction before the server ends it. */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 15_000;

/** The apps' bounds on every statement of theirs (contract §10); migrations run without them. */
export interface SessionTimeouts {
  /** The server cancels a statement that runs longer (SQLSTATE 57014). */
  statementTimeoutMs: number;
  /** A statement waiting longer for a lock fails (SQLSTATE 55P03). */
  lockTimeoutMs: number;
}

/** The `-c` settings every session of a pool starts with (libpq `options`). */
export function sessionOptions(timeouts?: SessionTimeouts): string {
  const settings = [`idle_in_transaction_session_timeout=${IDLE_IN_TRANSACTION_TIMEOUT_MS}`];
  if (timeouts) {
    settings.push(
      `statement_timeout=${timeouts.statementTimeoutMs}`,
      `lock_timeout=${timeouts.lockTimeoutMs}`,
    );
  }
  return settings.map((s) => `-c ${s}`).join(' ');
}

/**
 * `timeouts`: the apps' pools pass them, so every statement is bounded and a caller waits for a pool
 * connection (a free one, or a new one from an unresponsive server) at most one statement timeout.
 * The migration tool passes none: a migration may legitimately run long.
 */
export function dataSourceOptions(
  target: DatabaseTarget,
  poolSize = 10,
  timeouts?: SessionTimeouts,
): DataSourceOptions {
  return {
    type: 'postgres',
    url: connectionStringOf(target),
    entities: [],
    migrations: MIGRATIONS,
    migrationsTableName: 'valuation_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    installExtensions: false,
    extra: {
      max: poolSize,
      application_name: 'valuation-pipeline',
      // A process frozen inside a transaction (a long GC pause, a stalled VM, SIGSTOP) would otherwise
      // hold its rows' locks until it wakes up or dies: the server ends such a session instead. No
      // transaction of ours waits on anything but the database, except the outbox relay's Kafka send,
      // whose events stay leased when it loses its session (OutboxRepository).
      options: sessionOptions(timeouts),
      ...(timeouts ? { connectionTimeoutMillis: timeouts.statementTimeoutMs } : {}),
    },
  };
}

/** The same server and credentials, the `postgres` database. */
function maintenanceTarget(target: DatabaseTarget): DatabaseTarget {
  if (typeof target !== 'string') return target.withDatabase('postgres');
  const url = new URL(target);
  url.pathname = '/postgres';
  return url.toString();
}

/** Creates the database named in the URL when it does not exist (connecting to `postgres` to do so). */
export async function ensureDatabase(target: DatabaseTarget): Promise<boolean> {
  const name = decodeURIComponent(new URL(connectionStringOf(target)).pathname.slice(1));
  const client = new Client({ connectionString: connectionStringOf(maintenanceTarget(target)) });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    return true;
  } finally {
    await client.end();
  }
}

export async function runMigrations(target: DatabaseTarget): Promise<string[]> {
  await ensureDatabase(target);
  const ds = await new DataSource(dataSourceOptions(target, 2)).initialize();
  try {
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await ds.destroy();
  }
}

export async function revertLastMigration(target: DatabaseTarget): Promise<void> {
  const ds = await new DataSource(dataSourceOptions(target, 2)).initialize();
  try {
    await ds.undoLastMigration({ transaction: 'each' });
  } finally {
    await ds.destroy();
  }
}
