import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import { JobRecoveryRepository } from '@app/persistence';
import { connectTestDb, resetTables, seed } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { schedulerConfig, startScheduler } from '../../test/scheduler-testing';
import { SchedulerCycleService } from './scheduler-cycle.service';

/** Recovery of expired claims and supersession of obsolete epochs, against the real database. */
describe('SchedulerCycleService: recover and supersede', () => {
  let db: Client;
  let app: INestApplication;
  let cycle: SchedulerCycleService;

  beforeAll(async () => {
    db = await connectTestDb();
    const config = schedulerConfig(isolatedKafkaEnv('sched-recover'), {
      VALUATION_RETRY_BACKOFF_SECONDS: '60',
      VALUATION_RETRY_BACKOFF_MULTIPLIER: '2',
      VALUATION_RETRY_MAX_ATTEMPTS: '3',
    });
    app = await startScheduler(config, { limits: { recoverRows: 2, supersedeRows: 3 } });
    cycle = app.get(SchedulerCycleService);
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });
  beforeEach(() => resetTables(db));

  /** Puts a job in flight under a fresh claim whose lease ends `expiresInSeconds` from now. */
  const claim = (id: string, attempts: number, expiresInSeconds: number) =>
    db.query(
      `UPDATE portfolio_valuation_jobs SET status = 'PROCESSING', attempt_count = $2, claim_token = gen_random_uuid(),
              claim_expires_at = now() + make_interval(secs => $3) WHERE id = $1`,
      [id, attempts, expiresInSeconds],
    );
  const job = async (id: string) =>
    (
      await db.query(
        `SELECT status, attempt_count, failure_reason, claim_token, claim_expires_at,
                extract(epoch FROM next_attempt_at - now())::float8 AS due_in
           FROM portfolio_valuation_jobs WHERE id = $1`,
        [id],
      )
    ).rows[0];

  it('returns an expired claim to PENDING with one more attempt and the backoff of that attempt', async () => {
    const expired = await seed.job(db, 'P1', 'S1', '2025-01-02');
    const live = await seed.job(db, 'P1', 'S1', '2025-01-03');
    await claim(expired, 1, -1);
    await claim(live, 1, 300);

    await expect(cycle.recoverExpiredClaims()).resolves.toBe(1);

    const recovered = await job(expired);
    expect(recovered).toMatchObject({
      status: 'PENDING',
      attempt_count: 2,
      failure_reason: 'claim lease expired',
      claim_token: null,
      claim_expires_at: null,
    });
    // 2nd failure: 60 × 2^(2−1) = 120 s, plus at most 10 % jitter.
    expect(recovered.due_in).toBeGreaterThan(119);
    expect(recovered.due_in).toBeLessThanOrEqual(132);
    expect(await job(live)).toMatchObject({ status: 'PROCESSING', attempt_count: 1 });
  });

  it('fails a job whose expired claim was its last allowed attempt', async () => {
    const id = await seed.job(db, 'P1', 'S1', '2025-01-02');
    await claim(id, 2, -1);

    await cycle.recoverExpiredClaims();

    expect(await job(id)).toMatchObject({
      status: 'FAILED',
      attempt_count: 3,
      failure_reason: 'retries exhausted: claim lease expired',
      claim_token: null,
      due_in: null,
    });
  });

  it('leaves a job alone when its claim changed between the read and the write', async () => {
    const id = await seed.job(db, 'P1', 'S1', '2025-01-02');
    await claim(id, 0, -1);
    const repo = app.get(JobRecoveryRepository);
    const [stale] = await repo.findExpiredClaims(10);
    await claim(id, 0, -1); // re-claimed meanwhile: a new token

    const recovered = await repo.applyRecoveries([
      { ...stale, status: 'PENDING', attemptCount: 1, failureReason: 'x', delaySeconds: 1 },
    ]);

    expect(recovered).toEqual([]);
    expect(await job(id)).toMatchObject({ status: 'PROCESSING', attempt_count: 0 });
  });

  it('skips an expired claim whose worker is writing it right now, and recovers the others', async () => {
    const writing = await seed.job(db, 'P1', 'S1', '2025-01-02');
    const abandoned = await seed.job(db, 'P1', 'S1', '2025-01-03');
    await claim(writing, 0, -1);
    await claim(abandoned, 0, -1);
    // A calculator frozen (or slow) between its write and its commit holds the row's lock.
    const worker = await connectTestDb();
    try {
      await worker.query('BEGIN');
      await worker.query(`UPDATE portfolio_valuation_jobs SET updated_at = now() WHERE id = $1`, [writing]);

      await expect(cycle.recoverExpiredClaims()).resolves.toBe(1);
      expect(await job(abandoned)).toMatchObject({ status: 'PENDING', attempt_count: 1 });
    } finally {
      await worker.query('ROLLBACK');
      await worker.end();
    }
    // Once the worker is gone without finishing, the claim is recovered like any other.
    await expect(cycle.recoverExpiredClaims()).resolves.toBe(1);
    expect(await job(writing)).toMatchObject({ status: 'PENDING', attempt_count: 1 });
  });

  it('recovers at most the configured rows per cycle', async () => {
    for (let d = 1; d <= 5; d++) await claim(await seed.job(db, 'P1', 'S1', `2025-01-0${d}`), 0, -1);
    await expect(cycle.recoverExpiredClaims()).resolves.toBe(2);
    await expect(cycle.recoverExpiredClaims()).resolves.toBe(2);
    await expect(cycle.recoverExpiredClaims()).resolves.toBe(1);
  });

  it('supersedes the unsettled jobs of older epochs and nothing else', async () => {
    await seed.positionState(db, 'P1', 'S1', 2);
    const pendingOld = await seed.job(db, 'P1', 'S1', '2025-01-02', 1);
    const processingOld = await seed.job(db, 'P1', 'S1', '2025-01-03', 1);
    await claim(processingOld, 0, 300);
    const completeOld = await seed.job(db, 'P1', 'S1', '2025-01-04', 1);
    await db.query(`UPDATE portfolio_valuation_jobs SET status = 'COMPLETE' WHERE id = $1`, [completeOld]);
    const current = await seed.job(db, 'P1', 'S1', '2025-01-02', 2);
    const noState = await seed.job(db, 'P9', 'S1', '2025-01-02', 0);

    await expect(cycle.supersedeObsolete()).resolves.toBe(2);

    const { rows } = await db.query(
      `SELECT id::text, status, claim_token FROM portfolio_valuation_jobs ORDER BY id`,
    );
    const status = Object.fromEntries(rows.map((r) => [r.id, r.status]));
    expect(status).toEqual({
      [pendingOld]: 'SKIPPED_SUPERSEDED',
      [processingOld]: 'SKIPPED_SUPERSEDED',
      [completeOld]: 'COMPLETE',
      [current]: 'PENDING',
      [noState]: 'PENDING',
    });
    expect(rows.every((r) => r.claim_token === null)).toBe(true);
  });

  it('supersedes FAILED jobs of older epochs too, so they stop counting; current-epoch failures stay', async () => {
    await seed.positionState(db, 'P1', 'S1', 2);
    const fail = async (date: string, epoch: number) => {
      const id = await seed.job(db, 'P1', 'S1', date, epoch);
      await db.query(
        `UPDATE portfolio_valuation_jobs SET status = 'FAILED', failure_reason = 'unknown instrument S1'
          WHERE id = $1`,
        [id],
      );
      return id;
    };
    const failedOld = await fail('2025-01-02', 0);
    const failedPrevious = await fail('2025-01-03', 1);
    const failedCurrent = await fail('2025-01-02', 2);
    const failedNoState = await seed.job(db, 'P9', 'S1', '2025-01-02', 0);
    await db.query(`UPDATE portfolio_valuation_jobs SET status = 'FAILED' WHERE id = $1`, [failedNoState]);

    await expect(cycle.supersedeObsolete()).resolves.toBe(2);

    const { rows } = await db.query(`SELECT id::text, status FROM portfolio_valuation_jobs ORDER BY id`);
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({
      [failedOld]: 'SKIPPED_SUPERSEDED',
      [failedPrevious]: 'SKIPPED_SUPERSEDED',
      [failedCurrent]: 'FAILED',
      [failedNoState]: 'FAILED',
    });
    await expect(cycle.supersedeObsolete()).resolves.toBe(0);
  });

  it('supersedes at most the configured rows per cycle, FAILED ones included', async () => {
    await seed.positionState(db, 'P1', 'S1', 1);
    for (let d = 1; d <= 7; d++) await seed.job(db, 'P1', 'S1', `2025-01-0${d}`, 0);
    await db.query(
      `UPDATE portfolio_valuation_jobs SET status = 'FAILED' WHERE valuation_date <= '2025-01-04'`,
    );
    await expect(cycle.supersedeObsolete()).resolves.toBe(3);
    await expect(cycle.supersedeObsolete()).resolves.toBe(3);
    await expect(cycle.supersedeObsolete()).resolves.toBe(1);
    const { rows } = await db.query(`SELECT DISTINCT status FROM portfolio_valuation_jobs`);
    expect(rows).toEqual([{ status: 'SKIPPED_SUPERSEDED' }]);
  });
});
