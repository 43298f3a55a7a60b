import { makeWorkerUtils } from 'graphile-worker';
import PgBoss from 'pg-boss';
import type { PeerName } from './peer-worker';
import { TASK, type ValueOne } from './valuation-task';

/** Jobs per insert statement: big enough to load 20,000 jobs in seconds, small enough for one JSON. */
const CHUNK = 5000;

const chunks = <T>(items: T[]) =>
  Array.from({ length: Math.ceil(items.length / CHUNK) }, (_, i) => items.slice(i * CHUNK, (i + 1) * CHUNK));

/**
 * Installs the peer's schema in the bench database and enqueues the jobs, all due now, through the
 * library's own bulk API (graphile-worker `addJobs`, pg-boss `insert`), before any worker runs: the
 * same backlog the pipeline's drain starts from.
 */
export async function enqueue(peer: PeerName, databaseUrl: string, jobs: ValueOne[]): Promise<void> {
  if (peer === 'graphile-worker') {
    const utils = await makeWorkerUtils({ connectionString: databaseUrl });
    try {
      await utils.migrate();
      for (const chunk of chunks(jobs))
        await utils.addJobs(chunk.map((payload) => ({ identifier: TASK, payload })));
    } finally {
      await utils.release();
    }
    return;
  }
  const boss = new PgBoss({ connectionString: databaseUrl, supervise: false, schedule: false });
  await boss.start();
  try {
    await boss.createQueue(TASK);
    for (const chunk of chunks(jobs)) await boss.insert(chunk.map((data) => ({ name: TASK, data })));
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
}
