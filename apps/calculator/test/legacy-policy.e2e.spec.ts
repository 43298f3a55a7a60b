import { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { AppConfig } from '@app/config';
import { LegacyValuationJobRepository, RetryingValuationJobRepository } from '@app/persistence';
import { ValuationJobRepository } from '@app/valuation';
import { connectTestDb, eventually, resetTables, seed } from '../../../test/support/database';
import { startCalculator, TestKafka } from '../../../test/support/calculator-app';

describe('calculator with VALUATION_JOB_POLICY=legacy', () => {
  let db: Client;
  let app: INestApplication;
  let config: AppConfig;
  let kafka: TestKafka;

  beforeAll(async () => {
    db = await connectTestDb();
    await resetTables(db);
    ({ app, config } = await startCalculator('legacy', { VALUATION_JOB_POLICY: 'legacy' }));
    kafka = new TestKafka(config);
    await kafka.connect();
  });
  afterAll(async () => {
    await kafka.close();
    await app.close();
    await db.end();
  });

  it('is wired with the legacy job repository', () => {
    const repo = app.get(ValuationJobRepository);
    expect(repo).toBeInstanceOf(LegacyValuationJobRepository);
    expect(repo).not.toBeInstanceOf(RetryingValuationJobRepository);
  });

  it('completes a job whose FX rate is missing, with a FAILED snapshot (the behaviour before the RFC)', async () => {
    await seed.portfolio(db, 'P1', 'USD');
    await seed.instrument(db, 'S1', 'EUR');
    await seed.price(db, 'S1', '2024-03-01', '120', 'EUR');
    await seed.position(db, {
      portfolioId: 'P1',
      securityId: 'S1',
      date: '2024-03-01',
      quantity: '100',
      costBasis: '11000',
      costBasisLocal: '10000',
    });
    await seed.job(db, 'P1', 'S1', '2024-03-01');
    await kafka.send(config.kafka.topics.valuationRequired, [
      {
        key: 'P1',
        value: JSON.stringify({
          portfolio_id: 'P1',
          security_id: 'S1',
          valuation_date: '2024-03-01',
          epoch: 0,
        }),
      },
    ]);
    const job = await eventually(async () => {
      const { rows } = await db.query(
        `SELECT status, attempt_count, failure_reason, next_attempt_at FROM portfolio_valuation_jobs`,
      );
      return rows[0].status === 'PENDING' ? undefined : rows[0];
    });
    expect(job).toMatchObject({ status: 'COMPLETE', next_attempt_at: null });
    expect(job.failure_reason).toContain('EUR/USD');
    const { rows } = await db.query(`SELECT valuation_status, failure_reason FROM daily_position_snapshots`);
    expect(rows).toEqual([{ valuation_status: 'FAILED', failure_reason: job.failure_reason }]);
  });
});
