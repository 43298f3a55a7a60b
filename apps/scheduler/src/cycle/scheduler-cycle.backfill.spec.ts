import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import { BackfillRepository } from '@app/persistence';
import { connectTestDb, resetTables, seed } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { schedulerConfig, startScheduler } from '../../test/scheduler-testing';
import { SchedulerCycleService } from './scheduler-cycle.service';

const HORIZON = '2025-01-10';

describe('SchedulerCycleService: backfill', () => {
  let db: Client;
  let app: INestApplication;
  let cycle: SchedulerCycleService;

  beforeAll(async () => {
    db = await connectTestDb();
    app = await startScheduler(schedulerConfig(isolatedKafkaEnv('sched-backfill')), {
      limits: { backfillKeys: 10, backfillRows: 1000 },
    });
    cycle = app.get(SchedulerCycleService);
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });
  beforeEach(async () => {
    await resetTables(db);
    for (const d of ['2025-01-06', '2025-01-09', HORIZON]) await seed.businessDate(db, d);
    await seed.businessDate(db, '2025-03-01', 'OTHER'); // another calendar never sets the horizon
  });

  const position = (portfolioId: string, securityId: string, date: string, epoch = 0) =>
    seed.position(db, {
      portfolioId,
      securityId,
      date,
      epoch,
      quantity: '1',
      costBasis: '1',
      costBasisLocal: '1',
    });
  const jobDates = async (portfolioId: string, securityId: string) =>
    (
      await db.query(
        `SELECT to_char(valuation_date, 'YYYY-MM-DD') || '@' || epoch AS d FROM portfolio_valuation_jobs
          WHERE portfolio_id = $1 AND security_id = $2 ORDER BY valuation_date, epoch`,
        [portfolioId, securityId],
      )
    ).rows.map((r) => r.d);
  const state = async (portfolioId: string) =>
    (
      await db.query(
        `SELECT backfilled_epoch, to_char(backfilled_through, 'YYYY-MM-DD') AS backfilled_through
           FROM position_state WHERE portfolio_id = $1`,
        [portfolioId],
      )
    ).rows[0];
  const range = (from: number, to: number, epoch = 0) =>
    Array.from({ length: to - from + 1 }, (_, i) => `2025-01-${String(from + i).padStart(2, '0')}@${epoch}`);

  it('creates one job per calendar day from max(watermark + 1, first position date) to the horizon', async () => {
    await seed.positionState(db, 'A', 'S1');
    await position('A', 'S1', '2025-01-07');
    await position('A', 'S1', '2025-01-09');
    await seed.positionState(db, 'B', 'S1', 0, '2025-01-08');
    await position('B', 'S1', '2025-01-01');
    await seed.positionState(db, 'C', 'S1', 1);
    await position('C', 'S1', '2025-01-02', 0);
    await position('C', 'S1', '2025-01-05', 1);
    await seed.positionState(db, 'D', 'S1', 0, HORIZON);
    await position('D', 'S1', '2025-01-01');
    await seed.positionState(db, 'E', 'S1'); // no history yet
    await seed.positionState(db, 'F', 'S1');
    await position('F', 'S1', '2025-01-20'); // starts after the horizon

    await cycle.backfill();

    expect(await jobDates('A', 'S1')).toEqual(range(7, 10));
    expect(await jobDates('B', 'S1')).toEqual(range(9, 10));
    expect(await jobDates('C', 'S1')).toEqual(range(5, 10, 1));
    expect(await jobDates('D', 'S1')).toEqual([]);
    expect(await jobDates('E', 'S1')).toEqual([]);
    expect(await jobDates('F', 'S1')).toEqual([]);
    expect(await state('A')).toEqual({ backfilled_epoch: 0, backfilled_through: HORIZON });
    expect(await state('C')).toEqual({ backfilled_epoch: 1, backfilled_through: HORIZON });
    expect(await state('E')).toEqual({ backfilled_epoch: null, backfilled_through: null });
    expect(await state('F')).toEqual({ backfilled_epoch: 0, backfilled_through: HORIZON });
  });

  it('is idempotent, never re-opens a settled job, and extends to a new horizon', async () => {
    await seed.positionState(db, 'A', 'S1');
    await position('A', 'S1', '2025-01-08');
    await cycle.backfill();
    await db.query(
      `UPDATE portfolio_valuation_jobs SET status = 'COMPLETE', attempt_count = 2 WHERE valuation_date = '2025-01-08'`,
    );
    await db.query(`UPDATE position_state SET backfilled_epoch = NULL, backfilled_through = NULL`);

    await cycle.backfill();
    await cycle.backfill();

    const { rows } = await db.query(
      `SELECT to_char(valuation_date, 'YYYY-MM-DD') AS d, status, attempt_count FROM portfolio_valuation_jobs ORDER BY 1`,
    );
    expect(rows).toEqual([
      { d: '2025-01-08', status: 'COMPLETE', attempt_count: 2 },
      { d: '2025-01-09', status: 'PENDING', attempt_count: 0 },
      { d: '2025-01-10', status: 'PENDING', attempt_count: 0 },
    ]);

    await seed.businessDate(db, '2025-01-13');
    await cycle.backfill();
    expect(await jobDates('A', 'S1')).toEqual(range(8, 13));
  });

  it('backfills the new epoch after an upstream rewrite from the moved-back watermark', async () => {
    await seed.positionState(db, 'A', 'S1');
    await position('A', 'S1', '2025-01-03');
    await cycle.backfill();
    await position('A', 'S1', '2025-01-01', 1);
    await db.query(
      `UPDATE position_state SET epoch = 1, watermark_date = '2025-01-07', status = 'REPROCESSING'`,
    );

    await cycle.backfill();

    expect((await jobDates('A', 'S1')).filter((d) => d.endsWith('@1'))).toEqual(range(8, 10, 1));
    expect(await state('A')).toEqual({ backfilled_epoch: 1, backfilled_through: HORIZON });
  });

  it('serves every key in turn: more stuck keys than one pass holds never block the others', async () => {
    // 25 keys with no position history (they can never advance) sort before the one that can.
    for (let i = 0; i < 25; i++) await seed.positionState(db, `P${String(i).padStart(2, '0')}`, 'S1');
    await seed.positionState(db, 'P99', 'S1');
    await position('P99', 'S1', '2025-01-09');

    const seen: number[] = [];
    for (let pass = 0; pass < 3; pass++) seen.push((await cycle.backfill())?.keysSeen ?? 0);

    expect(seen).toEqual([10, 10, 6]);
    expect(await jobDates('P99', 'S1')).toEqual(range(9, 10));
    // The next round starts over, so a stuck key whose history arrives is served within one round.
    await position('P00', 'S1', '2025-01-10');
    await cycle.backfill();
    expect(await jobDates('P00', 'S1')).toEqual(range(10, 10));
  });

  it('shares the row budget of a pass in key order and resumes a key it cut short', async () => {
    const repo = app.get(BackfillRepository);
    await seed.positionState(db, 'A', 'S1');
    await position('A', 'S1', '2025-01-07'); // wants 4
    await seed.positionState(db, 'B', 'S1');
    await position('B', 'S1', '2025-01-05'); // wants 6

    const first = await repo.backfill({ horizon: HORIZON, after: null, keyLimit: 10, rowLimit: 5 });
    expect(first.jobsCreated).toBe(5);
    expect(await jobDates('B', 'S1')).toEqual(range(5, 5));
    expect(await state('B')).toEqual({ backfilled_epoch: 0, backfilled_through: '2025-01-05' });

    const second = await repo.backfill({
      horizon: HORIZON,
      after: first.resumeAfter,
      keyLimit: 10,
      rowLimit: 5,
    });
    expect(second.jobsCreated).toBe(5);
    expect(await jobDates('B', 'S1')).toEqual(range(5, 10));
    expect(await state('B')).toEqual({ backfilled_epoch: 0, backfilled_through: HORIZON });
  });

  it('does nothing without a horizon', async () => {
    await db.query(`DELETE FROM business_dates WHERE calendar_code = 'GLOBAL'`);
    await seed.positionState(db, 'A', 'S1');
    await position('A', 'S1', '2025-01-07');
    await expect(cycle.backfill()).resolves.toBeNull();
    expect(await jobDates('A', 'S1')).toEqual([]);
  });
});
