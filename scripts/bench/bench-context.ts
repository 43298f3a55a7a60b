import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { freshDatabase } from '../lib/infra';
import { red, say } from '../lib/terminal';
import type { BenchSettings } from './settings';

/** Something a scenario started that must be stopped even when the scenario fails (a pipeline). */
export interface Stoppable {
  stop(): Promise<unknown>;
}

/**
 * What every scenario gets from main, made once from the parsed options: where things are, how big to
 * make them, the settings to run the apps with, and its own run id. Nothing in the bench reads options
 * or settings from anywhere else.
 */
export interface BenchContext {
  readonly quick: boolean;
  /** Also write CPU profiles of the app processes to .run/prof (`--profile`). */
  readonly profile: boolean;
  /** The apps' settings: the defaults with this run's `--set` overrides. */
  readonly settings: BenchSettings;
  readonly databaseUrl: string;
  readonly brokers: string;
  /** Unique per bench run: prefixes topic and consumer-group names, so runs never see each other. */
  readonly runId: string;
  readonly kafka: Kafka;
  /** The broker's process, for its CPU time (null: not on this machine or not found). */
  readonly brokerPid: number | null;
  /** What scenarios started and did not stop yet, so a failing or interrupted run still stops it. */
  readonly running: Set<Stoppable>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function createKafka(brokers: string, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
}

/**
 * The dedicated benchmark database, dropped, re-created and migrated: every scenario (and every run
 * within a scenario) starts from the same empty state, so table bloat of one never slows the next.
 */
export async function freshBenchDb(ctx: BenchContext): Promise<Client> {
  await freshDatabase(ctx.databaseUrl);
  return connect(ctx.databaseUrl, 'valuation-bench');
}

/**
 * A connection of the bench's own. A dropped connection (PostgreSQL restarted under the bench) then
 * fails the query in flight, and the run with it, instead of crashing on an unhandled 'error' event.
 */
export async function connect(databaseUrl: string, name: string): Promise<Client> {
  const db = new Client({ connectionString: databaseUrl, application_name: name });
  db.on('error', (error) => say(red(`  ${name}: database connection lost (${error.message})`)));
  await db.connect();
  return db;
}

/** The repositories take a TypeORM DataSource; all they use is `query`, which this runs on `db`. */
export function runningOn(db: Client): DataSource {
  return {
    query: async (sql: string, params: unknown[] = []): Promise<unknown[]> =>
      (await db.query<object>(sql, params)).rows,
  } as unknown as DataSource;
}

/** The database's clock (every timestamp the pipeline writes uses it), as an ISO string with µs. */
export async function dbNow(db: Client): Promise<string> {
  const { rows } = await db.query<{ t: string }>(
    `SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`,
  );
  return rows[0].t;
}

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Counts the queries the bench itself sends on `db`, to subtract them from server-side counters. */
export function countQueries(db: Client): () => number {
  let n = 0;
  const original = db.query.bind(db) as (...args: unknown[]) => unknown;
  (db as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    n++;
    return original(...args);
  };
  return () => n;
}
