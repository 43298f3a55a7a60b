import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import type { Client } from 'pg';
import { ADMIN_MAX_CONCURRENT } from '@app/persistence';
import { connectTestDb, eventually, resetTables, seed } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { bearer, schedulerConfig, startScheduler } from '../../test/scheduler-testing';
import { SchedulerCycleService } from '../cycle/scheduler-cycle.service';

interface Answer {
  status: number;
  body: { error?: string; status?: string };
}

/**
 * The operators' API shares the scheduler's pool (5 connections) with the cycle, but can never take
 * it all: however many slow requests arrive (here retries of rows locked elsewhere, each waiting on
 * its lock), at most ADMIN_MAX_CONCURRENT statements run at once, the rest are refused with a 503,
 * and a cycle run meanwhile gets its connections and does all its steps.
 */
describe('JobsController: bounded use of the database', () => {
  let db: Client;
  let locker: Client;
  let app: INestApplication;
  let cycle: SchedulerCycleService;
  let base: string;

  beforeAll(async () => {
    db = await connectTestDb();
    locker = await connectTestDb();
    // A lock wait far longer than the spec, so a request that reached the database stays blocked.
    const config = schedulerConfig(isolatedKafkaEnv('sched-api-bounded'), {
      DATABASE_LOCK_TIMEOUT_MS: '60000',
    });
    app = await startScheduler(config);
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    cycle = app.get(SchedulerCycleService);
  });
  afterAll(async () => {
    await app.close();
    await locker.end();
    await db.end();
  });
  beforeEach(() => resetTables(db));

  const call = async (path: string, method = 'GET'): Promise<Answer> => {
    const res = await fetch(`${base}${path}`, { method, headers: bearer() });
    return { status: res.status, body: (await res.json()) as Answer['body'] };
  };
  /** Sessions of the app's pool waiting on a lock (the spec's own clients have another name). */
  const waitingOnLocks = async () =>
    Number(
      (
        await db.query(
          `SELECT count(*) AS n FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = 'valuation-pipeline'
              AND wait_event_type = 'Lock'`,
        )
      ).rows[0].n,
    );

  it('refuses requests beyond its limit with a 503 while the cycle still runs every step', async () => {
    const failed: string[] = [];
    for (let i = 0; i < 12; i++) {
      const id = await seed.job(db, 'P1', `S${i}`, '2025-01-02');
      await db.query(`UPDATE portfolio_valuation_jobs SET status = 'FAILED' WHERE id = $1`, [id]);
      failed.push(id);
    }
    const due = await seed.job(db, 'P2', 'S1', '2025-01-02');
    await locker.query('BEGIN');
    await locker.query(`SELECT 1 FROM portfolio_valuation_jobs WHERE id = ANY($1::bigint[]) FOR UPDATE`, [
      failed,
    ]);

    // Slow requests: each retry waits on its row's lock, holding a connection while it waits.
    const settled = new Set<number>();
    const slow = failed
      .slice(0, ADMIN_MAX_CONCURRENT)
      .map((id, i) => call(`/jobs/${id}/retry`, 'POST').finally(() => settled.add(i)));
    await eventually(
      async () => ((await waitingOnLocks()) === ADMIN_MAX_CONCURRENT ? true : undefined),
      10000,
      'the first retries to wait on their locks',
    );
    // More of them, and listings: none reaches the database, each is refused after a short wait.
    const refused = await Promise.all([
      ...failed.slice(ADMIN_MAX_CONCURRENT).map((id) => call(`/jobs/${id}/retry`, 'POST')),
      ...Array.from({ length: 5 }, () => call('/jobs?status=FAILED')),
    ]);
    for (const answer of refused) {
      expect(answer).toEqual({
        status: 503,
        body: { error: expect.stringMatching(/^the jobs API is busy \(2 requests in progress\)/) },
      });
    }
    expect(await waitingOnLocks()).toBe(ADMIN_MAX_CONCURRENT);

    // The cycle gets its connections and does everything, while the slow requests still wait.
    const report = await cycle.runCycle(() => true);
    expect(report).toMatchObject({ recoverExpiredClaims: 0, supersedeObsolete: 0, dispatch: 1 });
    expect(report).toHaveProperty('refreshGauges');
    expect(settled.size).toBe(0);
    const { rows } = await db.query(`SELECT status FROM portfolio_valuation_jobs WHERE id = $1`, [due]);
    expect(rows[0].status).toBe('PROCESSING');

    await locker.query('COMMIT');
    for (const answer of await Promise.all(slow))
      expect(answer).toMatchObject({ status: 200, body: { status: 'PENDING' } });
    // Once they are done, the API answers again.
    expect((await call('/jobs?status=PENDING')).status).toBe(200);
  });

  it('answers 503 when the database gives up waiting for a locked job', async () => {
    // The API's statements have the app's lock timeout; a short one for this case.
    const short = await startScheduler(
      schedulerConfig(isolatedKafkaEnv('sched-api-lock'), { DATABASE_LOCK_TIMEOUT_MS: '500' }),
    );
    try {
      await short.listen(0, '127.0.0.1');
      const url = `http://127.0.0.1:${(short.getHttpServer().address() as AddressInfo).port}`;
      const id = await seed.job(db, 'P1', 'S1', '2025-01-02');
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM portfolio_valuation_jobs WHERE id = $1 FOR UPDATE`, [id]);
      try {
        const res = await fetch(`${url}/jobs/${id}/retry`, { method: 'POST', headers: bearer() });
        expect(res.status).toBe(503);
        expect(await res.json()).toEqual({ error: 'the job is locked by other work: try again shortly' });
      } finally {
        await locker.query('ROLLBACK');
      }
    } finally {
      await short.close();
    }
  });
});
