import type { INestApplication } from '@nestjs/common';
import { Kafka, logLevel } from 'kafkajs';
import type { Client } from 'pg';
import type { AppConfig } from '@app/config';
import { connectTestDb, eventually, resetTables, seed } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { schedulerConfig, startScheduler } from '../../test/scheduler-testing';
import { LEADERSHIP_LOST_REASON, SchedulerCycleService } from './scheduler-cycle.service';

/**
 * The attempts the scheduler ends (contract §9): a claim given back unpublished (`publish_failed`)
 * and a claim whose lease ran out (`lease_expired`), each one history row written by the statement
 * that moves the job. Real PostgreSQL, real broker.
 */
describe('SchedulerCycleService: attempt history of released and recovered claims', () => {
  let db: Client;
  let config: AppConfig;
  let app: INestApplication;
  let cycle: SchedulerCycleService;

  beforeAll(async () => {
    db = await connectTestDb();
    config = schedulerConfig(isolatedKafkaEnv('sched-attempts'), { VALUATION_SCHEDULER_BATCH_SIZE: '10' });
    app = await startScheduler(config);
    cycle = app.get(SchedulerCycleService);
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });
  beforeEach(() => resetTables(db));

  const history = async () =>
    (
      await db.query(
        `SELECT h.job_id::text AS job_id, h.attempt, h.outcome, h.reason, h.worker,
                h.claim_token IS NOT NULL AS has_claim, h.claimed_at <= h.finished_at AS claimed_before
           FROM valuation_job_attempts h ORDER BY h.id`,
      )
    ).rows;
  const jobs = async () =>
    (
      await db.query(
        `SELECT id::text AS id, status, attempt_count, attempt_seq FROM portfolio_valuation_jobs ORDER BY id`,
      )
    ).rows;

  it('ends a recovered claim with lease_expired by the scheduler, numbered by its claim', async () => {
    const id = await seed.job(db, 'P1', 'S1', '2025-01-02');
    await expect(cycle.dispatch()).resolves.toBe(1);
    const { rows: claimed } = await db.query(`SELECT claim_token FROM portfolio_valuation_jobs`);
    // The lease runs out (the worker died): moved back rather than waited for.
    await db.query(`UPDATE portfolio_valuation_jobs SET claim_expires_at = now() - interval '1 second'`);

    await expect(cycle.recoverExpiredClaims()).resolves.toBe(1);

    expect(await history()).toEqual([
      {
        job_id: id,
        attempt: 1,
        outcome: 'lease_expired',
        reason: 'claim lease expired',
        worker: 'scheduler',
        has_claim: true,
        claimed_before: true,
      },
    ]);
    const { rows } = await db.query(`SELECT claim_token FROM valuation_job_attempts`);
    expect(rows).toEqual(claimed);
    expect(await jobs()).toEqual([{ id, status: 'PENDING', attempt_count: 1, attempt_seq: 1 }]);

    // A recovery that finds nothing writes nothing.
    await expect(cycle.recoverExpiredClaims()).resolves.toBe(0);
    expect(await history()).toHaveLength(1);
  });

  it('ends the claims of a batch the broker refused with publish_failed, no attempt counted', async () => {
    const failingConfig = schedulerConfig(isolatedKafkaEnv('sched-attempts-gone'), {
      VALUATION_SCHEDULER_BATCH_SIZE: '10',
    });
    const failing = await startScheduler(failingConfig, { limits: { dispatchPublishTimeoutMs: 1000 } });
    const kafka = new Kafka({
      clientId: 'attempts-spec',
      brokers: config.kafka.brokers,
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    try {
      // The topic disappears under the running scheduler (the broker does not create topics).
      const gone = failingConfig.kafka.topics.valuationRequired;
      await admin.connect();
      await admin.deleteTopics({ topics: [gone] });
      await eventually(async () => ((await admin.listTopics()).includes(gone) ? undefined : true), 20_000);

      const a = await seed.job(db, 'P1', 'S1', '2025-01-02');
      const b = await seed.job(db, 'P1', 'S1', '2025-01-03');
      await expect(failing.get(SchedulerCycleService).dispatch()).rejects.toThrow(
        /publishing 2 jobs failed, 2 claims released/,
      );

      const rows = await history();
      expect(
        rows.map((r) => [r.job_id, r.attempt, r.outcome, r.worker, r.has_claim, r.claimed_before]),
      ).toEqual([
        [a, 1, 'publish_failed', 'scheduler', true, true],
        [b, 1, 'publish_failed', 'scheduler', true, true],
      ]);
      // A fixed reason: the broker's own error may name hosts, and the history is shown to operators.
      expect(rows[0].reason).toBe('publish to the broker failed or was not acknowledged in time');
      expect(await jobs()).toEqual([
        { id: a, status: 'PENDING', attempt_count: 0, attempt_seq: 1 },
        { id: b, status: 'PENDING', attempt_count: 0, attempt_seq: 1 },
      ]);
    } finally {
      await admin.disconnect();
      await failing.close();
    }
  });

  it('ends claims given back after a lost leadership with publish_failed, and numbers the next claim on', async () => {
    const id = await seed.job(db, 'P1', 'S1', '2025-01-02');
    await expect(cycle.dispatch(() => false)).resolves.toBe(0);
    await expect(cycle.dispatch()).resolves.toBe(1);

    expect(await history()).toEqual([
      {
        job_id: id,
        attempt: 1,
        outcome: 'publish_failed',
        reason: LEADERSHIP_LOST_REASON,
        worker: 'scheduler',
        has_claim: true,
        claimed_before: true,
      },
    ]);
    // The second claim is in flight: attempt 2, not yet in the history.
    expect(await jobs()).toEqual([{ id, status: 'PROCESSING', attempt_count: 0, attempt_seq: 2 }]);
  });
});
