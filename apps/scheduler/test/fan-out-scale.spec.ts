import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import type { AppConfig } from '@app/config';
import { seedBook } from '../../../scripts/lib/seed';
import { connectTestDb, resetTables } from '../../../test/support/database';
import { isolatedKafkaEnv } from '../../../test/support/kafka';
import { SchedulerCycleService } from '../src/cycle/scheduler-cycle.service';
import { schedulerConfig, startScheduler } from './scheduler-testing';

const POSITIONS = 100_000;

/**
 * A price correction for a security held by 100,000 positions: the fan-out re-opens their jobs in
 * bounded chunks, one per cycle, and each cycle still dispatches.
 */
describe('fan-out of a widely held security', () => {
  let db: Client;
  let config: AppConfig;
  let app: INestApplication;
  let cycle: SchedulerCycleService;

  beforeAll(async () => {
    db = await connectTestDb();
    await resetTables(db);
    // Default limits for a batch of 500: chunks of 2,000 jobs per trigger per cycle.
    config = schedulerConfig(isolatedKafkaEnv('sched-scale'), {
      VALUATION_SCHEDULER_BATCH_SIZE: '500',
      VALUATION_SCHEDULER_MAX_IN_FLIGHT: '1000',
    });
    app = await startScheduler(config);
    cycle = app.get(SchedulerCycleService);
    const held = (prefix: string, securityId: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({
        portfolioId: `${prefix}${i + 1}`,
        securityId,
        date: '2025-01-10',
      }));
    // The holders' jobs first (ids 1…100,000), then 300 due jobs of another security.
    await seedBook(db, {
      jobs: held('P', 'ETF', POSITIONS).map((j) => ({ ...j, status: 'COMPLETE', attemptCount: 1 })),
    });
    await seedBook(db, {
      jobs: held('Q', 'OTHER', 300),
      prices: [{ securityId: 'ETF', date: '2025-01-10', price: 101, currency: 'USD' }],
    });
    await db.query(
      `INSERT INTO valuation_triggers (kind, security_id, effective_date) VALUES ('PRICE', 'ETF', '2025-01-10')`,
    );
    await db.query('ANALYZE portfolio_valuation_jobs');
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });

  it('re-opens one bounded chunk per cycle and dispatch keeps flowing between chunks', async () => {
    const chunkMs: number[] = [];
    for (let c = 0; c < 5; c++) {
      const started = performance.now();
      const report = await cycle.fanOut();
      chunkMs.push(Math.round(performance.now() - started));
      expect(report).toMatchObject({ triggers: 1, completed: 0, reopened: 2000 });
      // What a calculator fleet would do between cycles: settle what was dispatched.
      await db.query(
        `UPDATE portfolio_valuation_jobs SET status = 'COMPLETE', claim_token = NULL WHERE status = 'PROCESSING'`,
      );
      await expect(cycle.dispatch()).resolves.toBe(1000);
    }
    console.log(`fan-out chunk times (ms) over ${POSITIONS} positions: ${chunkMs.join(', ')}`);
    expect(Math.max(...chunkMs)).toBeLessThan(1500);
    const { rows } = await db.query(`SELECT cursor_job_id::int AS c, completed_at FROM valuation_triggers`);
    expect(rows[0]).toEqual({ c: 10000, completed_at: null });
  });
});
