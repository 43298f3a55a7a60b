import { Logger, LogLevel, run } from 'graphile-worker';
import { Pool } from 'pg';
import PgBoss from 'pg-boss';
import { TASK, type ValueOne, VALUE_ONE_SQL, valueOneParams } from './valuation-task';

/**
 * A peer queue's worker, run as a child process of the bench (`node peer-worker.js PEER DATABASE_URL`)
 * so its CPU is its own and the bench's polling does not share its event loop. It starts draining at
 * once (the bench enqueued the jobs before), prints "ready", and stops on SIGTERM.
 */
export type PeerName = 'graphile-worker' | 'pg-boss';

/** The settings each peer runs with (from the hand measurement); written to the docs. */
export const PEER_SETTINGS: Record<PeerName, string> = {
  'graphile-worker': 'concurrency 10, pool of 11 connections (concurrency + 1)',
  'pg-boss': '4 work() loops, batches of 1,000 jobs, 0.5 s polling; task queries on a pool of 10',
};

async function graphileWorker(databaseUrl: string): Promise<() => Promise<void>> {
  const runner = await run({
    connectionString: databaseUrl,
    concurrency: 10,
    maxPoolSize: 11,
    noHandleSignals: true,
    // Errors only: a log line per job would cost more than the task.
    logger: new Logger(() => (level, message) => {
      if (level === LogLevel.ERROR) console.error(`graphile-worker: ${message}`);
    }),
    taskList: {
      [TASK]: async (payload, helpers) => {
        await helpers.query(VALUE_ONE_SQL, valueOneParams(payload as ValueOne));
      },
    },
  });
  return () => runner.stop();
}

async function pgBoss(databaseUrl: string): Promise<() => Promise<void>> {
  const boss = new PgBoss({ connectionString: databaseUrl, supervise: false, schedule: false });
  boss.on('error', (error: Error) => console.error(`pg-boss: ${error.message}`));
  await boss.start();
  const pool = new Pool({ connectionString: databaseUrl, max: 10 });
  for (let i = 0; i < 4; i++)
    await boss.work<ValueOne>(TASK, { batchSize: 1000, pollingIntervalSeconds: 0.5 }, async (jobs) => {
      await Promise.all(jobs.map((job) => pool.query(VALUE_ONE_SQL, valueOneParams(job.data))));
    });
  return async () => {
    await boss.stop({ graceful: false, wait: true });
    await pool.end();
  };
}

async function main(): Promise<void> {
  const [peer, databaseUrl] = process.argv.slice(2) as [PeerName, string];
  const stop = await (peer === 'graphile-worker' ? graphileWorker : pgBoss)(databaseUrl);
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    void stop().finally(() => process.exit(0));
  });
}

if (require.main === module)
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
