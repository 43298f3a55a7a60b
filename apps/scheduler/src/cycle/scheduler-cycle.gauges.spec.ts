import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import { register } from 'prom-client';
import { addDays, type JobRow, seedBook } from '../../../../scripts/lib/seed';
import { connectTestDb, resetTables, seed } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { schedulerConfig, startScheduler } from '../../test/scheduler-testing';
import { SchedulerCycleService } from './scheduler-cycle.service';

const STATUSES = ['PENDING', 'PROCESSING', 'FAILED', 'COMPLETE', 'SKIPPED_NO_POSITION', 'SKIPPED_SUPERSEDED'];

/** The gauges of contract §8 and §9 against seeded rows of the real database. */
describe('SchedulerCycleService: gauges', () => {
  let db: Client;
  let app: INestApplication;
  let cycle: SchedulerCycleService;

  beforeAll(async () => {
    db = await connectTestDb();
    app = await startScheduler(schedulerConfig(isolatedKafkaEnv('sched-gauges')));
    cycle = app.get(SchedulerCycleService);
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });
  beforeEach(() => resetTables(db));

  const values = async (name: string) => (await register.getSingleMetric(name)?.get())?.values ?? [];
  const byLabel = async (name: string, label: string) =>
    Object.fromEntries((await values(name)).map((v) => [v.labels[label], v.value]));
  const single = async (name: string) => (await values(name))[0]?.value;
  const table = async () =>
    Object.fromEntries([
      ...STATUSES.map((s) => [s, 0]),
      ...(
        await db.query(`SELECT status, count(*)::int AS n FROM portfolio_valuation_jobs GROUP BY status`)
      ).rows.map((r) => [r.status, r.n]),
    ]);
  /** `n` jobs of `status` for key (p, s), one per day from 2024-01-01 onwards. */
  const jobs = (p: string, s: string, status: JobRow['status'], n: number, waitingOn: string | null = null) =>
    seedBook(db, {
      jobs: Array.from({ length: n }, (_, g) => ({
        portfolioId: p,
        securityId: s,
        date: addDays('2024-01-01', g),
        status,
        waitingOn,
      })),
    });

  it('reports valuation_jobs exactly for every status after each cycle, however the rows moved', async () => {
    await jobs('P1', 'S1', 'PENDING', 63);
    await jobs('P1', 'S2', 'PROCESSING', 4);
    await jobs('P1', 'S3', 'FAILED', 2);
    await jobs('P2', 'S1', 'COMPLETE', 120);
    await jobs('P2', 'S2', 'SKIPPED_NO_POSITION', 7);
    await jobs('P2', 'S3', 'SKIPPED_SUPERSEDED', 5);

    await cycle.refreshGauges();
    expect(await byLabel('valuation_jobs', 'status')).toEqual(await table());
    expect(await byLabel('valuation_jobs', 'status')).toMatchObject({ PENDING: 63, COMPLETE: 120 });

    // Transitions between settled and unsettled statuses: the very next cycle shows them all.
    await db.query(
      `UPDATE portfolio_valuation_jobs SET status = 'PENDING'
        WHERE id IN (SELECT id FROM portfolio_valuation_jobs WHERE status = 'COMPLETE' LIMIT 40)`,
    );
    await db.query(
      `UPDATE portfolio_valuation_jobs SET status = 'SKIPPED_SUPERSEDED' WHERE status = 'FAILED'`,
    );
    await db.query(`DELETE FROM portfolio_valuation_jobs WHERE status = 'SKIPPED_NO_POSITION'`);
    await cycle.refreshGauges();
    expect(await byLabel('valuation_jobs', 'status')).toEqual({
      PENDING: 103,
      PROCESSING: 4,
      FAILED: 0,
      COMPLETE: 80,
      SKIPPED_NO_POSITION: 0,
      SKIPPED_SUPERSEDED: 7,
    });
    expect(await byLabel('valuation_jobs', 'status')).toEqual(await table());
  });

  it('counts the PENDING jobs waiting on data, by kind', async () => {
    await jobs('P1', 'S1', 'PENDING', 3, 'PRICE:S1');
    await jobs('P2', 'S1', 'PENDING', 2, 'PRICE:S1');
    await jobs('P1', 'S2', 'PENDING', 4, 'FX:EUR/USD');
    await jobs('P1', 'S3', 'PENDING', 6); // due, not waiting on anything
    await jobs('P2', 'S2', 'PROCESSING', 1, 'FX:EUR/USD'); // in flight: not waiting
    await jobs('P2', 'S3', 'COMPLETE', 8);

    await cycle.refreshGauges();

    expect(await byLabel('valuation_jobs_waiting_on_data', 'kind')).toEqual({ price: 5, fx: 4 });
  });

  it('reports the largest watermark lag behind the horizon and the keys not CURRENT', async () => {
    await seed.businessDate(db, '2025-01-09');
    await seed.businessDate(db, '2025-01-10');
    const position = (p: string, s: string, date: string, epoch: number) =>
      seed.position(db, {
        portfolioId: p,
        securityId: s,
        date,
        epoch,
        quantity: '1',
        costBasis: '1',
        costBasisLocal: '1',
      });
    // A: 3 days behind. B: no watermark, current epoch 1 starts 2025-01-05 (epoch 0 from 2024 is
    // obsolete): 6 days to value. C: at the horizon. D: no watermark and no position: nothing to value.
    await seed.positionState(db, 'PA', 'S1', 0, '2025-01-07');
    await seed.positionState(db, 'PB', 'S1', 1, null);
    await position('PB', 'S1', '2024-06-01', 0);
    await position('PB', 'S1', '2025-01-05', 1);
    await position('PB', 'S1', '2025-01-08', 1);
    await seed.positionState(db, 'PC', 'S1', 0, '2025-01-10');
    await seed.positionState(db, 'PD', 'S1', 0, null);
    await db.query(
      `UPDATE position_state SET status = 'REPROCESSING' WHERE portfolio_id IN ('PA', 'PB', 'PC')`,
    );
    await db.query(`UPDATE position_state SET status = 'CURRENT' WHERE portfolio_id = 'PC'`);

    await cycle.refreshGauges();

    expect(await single('valuation_position_watermark_lag_days')).toBe(6);
    expect(await single('valuation_positions_reprocessing')).toBe(2);

    // B caught up to the day before the horizon: A is now the furthest behind.
    await db.query(`UPDATE position_state SET watermark_date = '2025-01-09' WHERE portfolio_id = 'PB'`);
    await cycle.refreshGauges();
    expect(await single('valuation_position_watermark_lag_days')).toBe(3);
  });

  it('reports no lag while the calendar is empty, and 0 for empty tables', async () => {
    await seed.positionState(db, 'P1', 'S1', 0, '2025-01-01');
    await cycle.refreshGauges();
    expect(await single('valuation_position_watermark_lag_days')).toBe(0);
    expect(await single('valuation_positions_reprocessing')).toBe(0);
    expect(await byLabel('valuation_jobs_waiting_on_data', 'kind')).toEqual({ price: 0, fx: 0 });
    expect(await byLabel('valuation_jobs', 'status')).toEqual(
      Object.fromEntries(STATUSES.map((s) => [s, 0])),
    );
  });
  // Last: starting a second scheduler resets the process-wide metrics registry.
  it('above the exact-count bound estimates only the settled statuses, the others stay exact', async () => {
    const estimating = await startScheduler(schedulerConfig(isolatedKafkaEnv('sched-gauges-est')), {
      limits: { exactJobCountMaxRows: 100 },
    });
    try {
      await jobs('P1', 'S1', 'COMPLETE', 300);
      await jobs('P1', 'S2', 'SKIPPED_NO_POSITION', 50);
      await jobs('P1', 'S3', 'PENDING', 20);
      // ANALYZE samples every row of so small a table: the estimates are then the counts.
      await db.query('VACUUM ANALYZE portfolio_valuation_jobs');
      await jobs('P2', 'S1', 'PENDING', 5); // after the statistics: only an exact count sees them

      await estimating.get(SchedulerCycleService).refreshGauges();

      expect(await byLabel('valuation_jobs', 'status')).toEqual({
        PENDING: 25,
        PROCESSING: 0,
        FAILED: 0,
        COMPLETE: expect.any(Number),
        SKIPPED_NO_POSITION: expect.any(Number),
        SKIPPED_SUPERSEDED: 0,
      });
      const est = await byLabel('valuation_jobs', 'status');
      // 375 rows now, 370 at the analyze: the settled counts scale with the table's pages.
      expect(est.COMPLETE).toBeGreaterThanOrEqual(290);
      expect(est.COMPLETE).toBeLessThanOrEqual(320);
      expect(est.SKIPPED_NO_POSITION).toBeGreaterThanOrEqual(45);
      expect(est.SKIPPED_NO_POSITION).toBeLessThanOrEqual(55);
    } finally {
      await estimating.close();
    }
  });
});
