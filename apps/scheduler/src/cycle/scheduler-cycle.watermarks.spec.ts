import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import { type JobRow, seedBook } from '../../../../scripts/lib/seed';
import { connectTestDb, resetTables, seed } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { schedulerConfig, startScheduler } from '../../test/scheduler-testing';
import { SchedulerCycleService } from './scheduler-cycle.service';

const HORIZON = '2025-01-10';
const day = (d: number) => `2025-01-${String(d).padStart(2, '0')}`;

describe('SchedulerCycleService: watermarks', () => {
  let db: Client;
  let app: INestApplication;
  let cycle: SchedulerCycleService;

  beforeAll(async () => {
    db = await connectTestDb();
    app = await startScheduler(schedulerConfig(isolatedKafkaEnv('sched-watermark')), {
      limits: { watermarkKeys: 2 },
    });
    cycle = app.get(SchedulerCycleService);
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });
  beforeEach(async () => {
    await resetTables(db);
    await seed.businessDate(db, HORIZON);
  });

  /** A key as backfill leaves it, with upstream's status, and its jobs from day `from`, one per status. */
  async function key(
    p: string,
    statuses: NonNullable<JobRow['status']>[],
    opts: { epoch?: number; backfilledThrough?: string; from?: number } = {},
  ) {
    const epoch = opts.epoch ?? 0;
    await seedBook(db, {
      positionStates: [
        {
          portfolioId: p,
          securityId: 'S1',
          epoch,
          status: 'REPROCESSING',
          backfilledEpoch: epoch,
          backfilledThrough: opts.backfilledThrough ?? HORIZON,
        },
      ],
      jobs: statuses.map((status, i) => ({
        portfolioId: p,
        securityId: 'S1',
        date: day((opts.from ?? 5) + i),
        epoch,
        status,
      })),
    });
  }
  const states = async () =>
    Object.fromEntries(
      (
        await db.query(
          `SELECT portfolio_id, to_char(watermark_date, 'YYYY-MM-DD') AS wm, status FROM position_state ORDER BY 1`,
        )
      ).rows.map((r) => [r.portfolio_id, `${r.wm ?? '-'} ${r.status}`]),
    );
  /** Enough passes for the 2-key limit to go round every key. */
  const sweep = async () => {
    for (let i = 0; i < 4; i++) await cycle.advanceWatermarks();
  };

  it('moves each watermark to the last date before an unsettled or failed job, CURRENT only at the horizon', async () => {
    const C = 'COMPLETE';
    await key('A', [C, 'SKIPPED_NO_POSITION', C, 'PENDING', C, C]); // days 5..10
    await key('B', [C, 'FAILED', C, C, C, C]);
    await key('C', ['PROCESSING', C, C, C, C, C]);
    await key('D', [C, C, C, C], { backfilledThrough: day(8) }); // backfill got this far so far
    await key('E', [C, C, C, C, C, 'SKIPPED_SUPERSEDED']);

    await sweep();

    expect(await states()).toEqual({
      A: `${day(7)} REPROCESSING`,
      B: `${day(5)} REPROCESSING`,
      C: '- REPROCESSING',
      D: `${day(8)} REPROCESSING`,
      E: `${HORIZON} CURRENT`,
    });

    await db.query(`UPDATE portfolio_valuation_jobs SET status = 'COMPLETE' WHERE portfolio_id = 'A'`);
    await sweep();
    expect((await states()).A).toBe(`${HORIZON} CURRENT`);
  });

  it('looks only at the jobs of the current epoch, and not at keys whose epoch is not backfilled yet', async () => {
    await key('A', ['COMPLETE', 'COMPLETE'], { epoch: 1, from: 9 });
    await seedBook(db, {
      jobs: [{ portfolioId: 'A', securityId: 'S1', date: day(9), epoch: 0, status: 'PENDING' }],
    });
    await key('B', ['COMPLETE', 'COMPLETE'], { from: 9 });
    await db.query(`UPDATE position_state SET epoch = 1 WHERE portfolio_id = 'B'`); // rewritten, not backfilled

    await sweep();

    expect(await states()).toEqual({ A: `${HORIZON} CURRENT`, B: '- REPROCESSING' });
  });

  it('never moves a watermark backwards', async () => {
    await key('A', ['COMPLETE', 'PENDING'], { from: 9 });
    await db.query(`UPDATE position_state SET watermark_date = $1`, [day(9)]);
    await sweep();
    expect((await states()).A).toBe(`${day(9)} REPROCESSING`);
  });
});
