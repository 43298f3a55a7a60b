import type { DataSource } from 'typeorm';
import { JobClaimsRepository, JobRecoveryRepository, JobStatsRepository } from '@app/persistence';

export interface CapturedQuery {
  sql: string;
  params: unknown[];
}

/**
 * The exact statement a repository method sends, captured by handing it a stand-in DataSource whose
 * `query` records instead of running: the bench measures the pipeline's own SQL, never a copy that
 * could drift from it.
 */
export async function capture(call: (ds: DataSource) => Promise<unknown>): Promise<CapturedQuery> {
  let captured: CapturedQuery | null = null; // the last statement the method sent
  const ds = {
    query: (sql: string, params: unknown[] = []) => {
      captured = { sql, params };
      // estimate 0: statusCounts takes its exact path, whose count is the statement captured last.
      return Promise.resolve([{ n: 0, pending: 0, processing: 0, failed: 0, attempts_max: 0, estimate: 0 }]);
    },
  } as unknown as DataSource;
  await call(ds);
  if (!captured) throw new Error('nothing was queried');
  return captured;
}

/** The scheduler's per-cycle statements whose cost could grow with the job table. */
export async function schedulerStatements(batch: number, leaseSeconds: number) {
  return {
    claim: await capture((ds) => new JobClaimsRepository(ds).claimDueJobs(batch, leaseSeconds)),
    countInFlight: await capture((ds) => new JobClaimsRepository(ds).countInFlight()),
    supersede: await capture((ds) => new JobRecoveryRepository(ds).supersedeObsolete(batch * 4)),
    activeStats: await capture((ds) => new JobStatsRepository(ds).activeStats(5)),
    statusCounts: await capture((ds) => new JobStatsRepository(ds).statusCounts(Number.MAX_SAFE_INTEGER)),
  };
}
