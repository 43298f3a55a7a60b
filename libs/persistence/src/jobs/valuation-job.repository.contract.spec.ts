import { Test, TestingModule } from '@nestjs/testing';
import { Client } from 'pg';
import { ValuationJobRepository, ValuationRequest } from '@app/valuation';
import { connectTestDb, resetTables, seed, testDatabaseUrl } from '../../../../test/support/database';
import { JobClaimsRepository } from './job-claims.repository';
import { PersistenceModule } from '../persistence.module';
import { LegacyValuationJobRepository, RetryingValuationJobRepository } from './valuation-job.repositories';

const WORKER = 'calculator-contract-spec';
const RETRY = { backoffSeconds: 600, backoffMultiplier: 1, backoffMaxSeconds: 21600, maxAttempts: 3 };

async function moduleFor(jobPolicy: 'retrying' | 'legacy'): Promise<TestingModule> {
  return Test.createTestingModule({
    imports: [
      PersistenceModule.forRoot({
        connection: testDatabaseUrl(),
        poolSize: 2,
        jobPolicy,
        retry: RETRY,
        snapshotTopic: 'snapshots',
        workerId: WORKER,
      }),
    ],
  }).compile();
}

const request = (securityId: string, date: string, claimToken: string | null = null): ValuationRequest => ({
  key: { portfolioId: 'P1', securityId, valuationDate: date, epoch: 0 },
  correlationId: 'corr-1',
  claimToken,
});

async function job(db: Client, securityId: string, date: string) {
  const { rows } = await db.query(
    `SELECT status, attempt_count, failure_reason, waiting_on, claim_token,
            EXTRACT(EPOCH FROM (next_attempt_at - now()))::float AS due_in
       FROM portfolio_valuation_jobs WHERE security_id = $1 AND valuation_date = $2`,
    [securityId, date],
  );
  return rows[0];
}

async function snapshots(db: Client) {
  const { rows } = await db.query(`SELECT * FROM daily_position_snapshots ORDER BY security_id, date`);
  return rows;
}

/** The attempt history, oldest first, with the job it belongs to. */
async function history(db: Client) {
  const { rows } = await db.query(
    `SELECT j.security_id, to_char(j.valuation_date, 'YYYY-MM-DD') AS date, h.attempt, h.outcome, h.reason,
            h.worker, h.claim_token, h.claimed_at IS NOT NULL AND h.claimed_at <= h.finished_at AS claimed_before
       FROM valuation_job_attempts h JOIN portfolio_valuation_jobs j ON j.id = h.job_id
      ORDER BY h.id`,
  );
  return rows;
}

async function outboxCount(db: Client): Promise<number> {
  const { rows } = await db.query(`SELECT count(*)::int AS n FROM valuation_outbox`);
  return rows[0].n;
}

/** P1 (USD) holds EURSEC (EUR, priced, EUR/USD rate only from Jan 3) and USSEC (USD, priced). */
async function arrange(db: Client) {
  await seed.portfolio(db, 'P1', 'USD');
  await seed.instrument(db, 'EURSEC', 'EUR');
  await seed.instrument(db, 'USSEC', 'USD');
  await seed.price(db, 'EURSEC', '2024-01-02', '120', 'EUR');
  await seed.price(db, 'USSEC', '2024-01-02', '120', 'USD');
  await seed.fx(db, 'EUR', 'USD', '2024-01-03', '1.2');
  for (const s of ['EURSEC', 'USSEC']) {
    await seed.position(db, {
      portfolioId: 'P1',
      securityId: s,
      date: '2024-01-01',
      quantity: '100',
      costBasis: '11000',
      costBasisLocal: '10000',
    });
    await seed.positionState(db, 'P1', s);
  }
}

describe.each(['retrying', 'legacy'] as const)('ValuationJobRepository contract (%s)', (policy) => {
  let module: TestingModule;
  let repo: ValuationJobRepository;
  let claims: JobClaimsRepository;
  let db: Client;

  beforeAll(async () => {
    module = await moduleFor(policy);
    repo = module.get(ValuationJobRepository);
    claims = module.get(JobClaimsRepository);
    db = await connectTestDb();
  });
  afterAll(async () => {
    await module.close();
    await db.end();
  });
  beforeEach(async () => {
    await resetTables(db);
    await arrange(db);
  });

  it('is the implementation the configuration names', () => {
    expect(repo.policyName).toBe(policy);
    expect(repo).toBeInstanceOf(
      policy === 'retrying' ? RetryingValuationJobRepository : LegacyValuationJobRepository,
    );
  });

  it('values a job: COMPLETE, exact snapshot, one outbox event', async () => {
    await seed.job(db, 'P1', 'EURSEC', '2024-01-03');
    const [result] = await repo.valueBatch([request('EURSEC', '2024-01-03')]);
    expect(result.outcome).toBe('complete');
    expect(await job(db, 'EURSEC', '2024-01-03')).toMatchObject({
      status: 'COMPLETE',
      attempt_count: 0,
      failure_reason: null,
    });
    const [snap] = await snapshots(db);
    expect(snap).toMatchObject({
      valuation_status: 'VALUED_STALE',
      market_price: '120.0000000000',
      market_value_local: '12000.0000000000',
      market_value: '14400.0000000000',
      unrealized_gain_loss_local: '2000.0000000000',
      unrealized_gain_loss: '3400.0000000000',
    });
    const { rows } = await db.query(`SELECT topic, message_key, payload FROM valuation_outbox`);
    expect(rows).toEqual([
      {
        topic: 'snapshots',
        message_key: 'P1',
        payload: {
          id: Number(snap.id),
          portfolio_id: 'P1',
          security_id: 'EURSEC',
          date: '2024-01-03',
          epoch: 0,
          valuation_status: 'VALUED_STALE',
        },
      },
    ]);
    // A claimless request starts and ends its attempt in the calculator's write.
    expect(await history(db)).toEqual([
      {
        security_id: 'EURSEC',
        date: '2024-01-03',
        attempt: 1,
        outcome: 'complete',
        reason: null,
        worker: WORKER,
        claim_token: null,
        claimed_before: true,
      },
    ]);
  });

  it('handles a missing FX rate by its policy', async () => {
    await seed.job(db, 'P1', 'EURSEC', '2024-01-02');
    const [result] = await repo.valueBatch([request('EURSEC', '2024-01-02')]);
    const row = await job(db, 'EURSEC', '2024-01-02');
    const [snap] = await snapshots(db);
    expect(snap).toMatchObject({ valuation_status: 'FAILED', market_value: null });
    expect(snap.failure_reason).toContain('EUR/USD');
    const [attempt] = await history(db);
    expect(attempt).toMatchObject({ attempt: 1, outcome: result.outcome, worker: WORKER });
    expect(attempt.reason).toContain('EUR/USD');
    if (policy === 'retrying') {
      expect(result.outcome).toBe('retry_scheduled');
      expect(row).toMatchObject({ status: 'PENDING', attempt_count: 1, waiting_on: 'FX:EUR/USD' });
      expect(row.failure_reason).toContain('EUR/USD');
      expect(row.due_in).toBeGreaterThan(595);
      expect(row.due_in).toBeLessThanOrEqual(660);
    } else {
      expect(result.outcome).toBe('complete');
      expect(row).toMatchObject({ status: 'COMPLETE', attempt_count: 1, waiting_on: null });
      expect(row.failure_reason).toContain('EUR/USD');
    }
  });

  it('skips jobs with no position and jobs of an obsolete epoch, writing no snapshot', async () => {
    await seed.job(db, 'P1', 'USSEC', '2023-12-31');
    await db.query(`UPDATE position_state SET epoch = 1 WHERE security_id = 'EURSEC'`);
    await seed.job(db, 'P1', 'EURSEC', '2024-01-03');
    const results = await repo.valueBatch([request('USSEC', '2023-12-31'), request('EURSEC', '2024-01-03')]);
    expect(results.map((r) => r.outcome)).toEqual(['skipped_no_position', 'skipped_superseded']);
    expect((await job(db, 'USSEC', '2023-12-31')).status).toBe('SKIPPED_NO_POSITION');
    expect((await job(db, 'EURSEC', '2024-01-03')).status).toBe('SKIPPED_SUPERSEDED');
    expect(await snapshots(db)).toEqual([]);
    expect(await outboxCount(db)).toBe(0);
    expect((await history(db)).map((h) => [h.security_id, h.outcome, h.reason])).toEqual([
      ['USSEC', 'skipped_no_position', null],
      ['EURSEC', 'skipped_superseded', null],
    ]);
  });

  it('reports a request for a job that does not exist as unknown', async () => {
    const [result] = await repo.valueBatch([request('USSEC', '2024-01-02')]);
    expect(result.outcome).toBe('unknown_job');
    expect(await snapshots(db)).toEqual([]);
    expect(await history(db)).toEqual([]);
  });

  it('applies a job once under redelivery and duplicates within a batch', async () => {
    await seed.job(db, 'P1', 'USSEC', '2024-01-02');
    const first = await repo.valueBatch([request('USSEC', '2024-01-02'), request('USSEC', '2024-01-02')]);
    const again = await repo.valueBatch([request('USSEC', '2024-01-02')]);
    expect(first.map((r) => r.outcome)).toEqual(['complete', 'lost_claim']);
    expect(again.map((r) => r.outcome)).toEqual(['lost_claim']);
    expect(await outboxCount(db)).toBe(1);
    expect((await snapshots(db))[0].valuation_status).toBe('VALUED_CURRENT');
    // A lost claim ended no attempt: one attempt, one row.
    expect((await history(db)).map((h) => h.outcome)).toEqual(['complete']);
  });

  it('lets only the holder of the current claim finish a dispatched job', async () => {
    await seed.job(db, 'P1', 'USSEC', '2024-01-02');
    const [first] = await claims.claimDueJobs(10, 300);
    // The lease expires and the job is re-issued with a new claim.
    await db.query(`UPDATE portfolio_valuation_jobs SET status = 'PENDING', claim_token = NULL`);
    const [second] = await claims.claimDueJobs(10, 300);
    expect(second.claimToken).not.toBe(first.claimToken);

    const [stale] = await repo.valueBatch([request('USSEC', '2024-01-02', first.claimToken)]);
    expect(stale.outcome).toBe('lost_claim');
    expect(await snapshots(db)).toEqual([]);
    expect((await job(db, 'USSEC', '2024-01-02')).status).toBe('PROCESSING');
    expect(await history(db)).toEqual([]);

    const [current] = await repo.valueBatch([request('USSEC', '2024-01-02', second.claimToken)]);
    expect(current.outcome).toBe('complete');
    expect(await job(db, 'USSEC', '2024-01-02')).toMatchObject({ status: 'COMPLETE', claim_token: null });
    expect(await outboxCount(db)).toBe(1);
    // The second claim is the job's second attempt, ended by the worker that held it.
    expect(await history(db)).toEqual([
      {
        security_id: 'USSEC',
        date: '2024-01-02',
        attempt: 2,
        outcome: 'complete',
        reason: null,
        worker: WORKER,
        claim_token: second.claimToken,
        claimed_before: true,
      },
    ]);
    const { rows } = await db.query(
      `SELECT h.claimed_at = j.attempt_started_at AS same FROM valuation_job_attempts h
         JOIN portfolio_valuation_jobs j ON j.id = h.job_id`,
    );
    expect(rows).toEqual([{ same: true }]);
  });

  it('finishes a job under its current claim when a stale copy comes first in the same batch', async () => {
    await seed.job(db, 'P1', 'USSEC', '2024-01-02');
    const [stale] = await claims.claimDueJobs(10, 300);
    // Released (its publish timed out) or recovered, then re-issued: both copies reach one batch.
    await db.query(`UPDATE portfolio_valuation_jobs SET status = 'PENDING', claim_token = NULL`);
    const [current] = await claims.claimDueJobs(10, 300);

    const results = await repo.valueBatch([
      request('USSEC', '2024-01-02', stale.claimToken),
      request('USSEC', '2024-01-02', current.claimToken),
      request('USSEC', '2024-01-02', current.claimToken),
    ]);
    expect(results.map((r) => r.outcome)).toEqual(['lost_claim', 'complete', 'lost_claim']);
    expect(await job(db, 'USSEC', '2024-01-02')).toMatchObject({ status: 'COMPLETE', claim_token: null });
    expect(await outboxCount(db)).toBe(1);
  });

  it('does not let a claimless request take a job that is backing off or claimed', async () => {
    await seed.job(db, 'P1', 'USSEC', '2024-01-02');
    await seed.job(db, 'P1', 'USSEC', '2024-01-03');
    await db.query(
      `UPDATE portfolio_valuation_jobs SET next_attempt_at = now() + interval '1 minute' WHERE valuation_date = '2024-01-02'`,
    );
    await claims.claimDueJobs(10, 300);
    const results = await repo.valueBatch([request('USSEC', '2024-01-02'), request('USSEC', '2024-01-03')]);
    expect(results.map((r) => r.outcome)).toEqual(['lost_claim', 'lost_claim']);
    expect(await snapshots(db)).toEqual([]);
  });

  if (policy === 'retrying') {
    it('fails the job when the attempts reach the maximum, and a success never resets attempt_count', async () => {
      await seed.job(db, 'P1', 'EURSEC', '2024-01-02');
      for (let attempt = 1; attempt <= 3; attempt++) {
        await db.query(`UPDATE portfolio_valuation_jobs SET next_attempt_at = NULL`);
        await repo.valueBatch([request('EURSEC', '2024-01-02')]);
      }
      const row = await job(db, 'EURSEC', '2024-01-02');
      expect(row).toMatchObject({ status: 'FAILED', attempt_count: 3, waiting_on: null });
      expect(row.failure_reason).toMatch(/^retries exhausted: .*EUR\/USD/);
      const attempts = await history(db);
      expect(attempts.map((h) => [h.attempt, h.outcome])).toEqual([
        [1, 'retry_scheduled'],
        [2, 'retry_scheduled'],
        [3, 'failed'],
      ]);
      expect(attempts[2].reason).toBe(row.failure_reason);

      await seed.job(db, 'P1', 'EURSEC', '2024-01-03');
      await db.query(
        `UPDATE portfolio_valuation_jobs SET attempt_count = 2 WHERE valuation_date = '2024-01-03'`,
      );
      await repo.valueBatch([request('EURSEC', '2024-01-03')]);
      expect(await job(db, 'EURSEC', '2024-01-03')).toMatchObject({ status: 'COMPLETE', attempt_count: 2 });
    });
  }
});
