import type { INestApplication } from '@nestjs/common';
import type { Consumer } from 'kafkajs';
import type { Client } from 'pg';
import { register } from 'prom-client';
import { DataSource } from 'typeorm';
import type { AppConfig } from '@app/config';
import { EventPublisher } from '@app/messaging';
import { JobClaimsRepository } from '@app/persistence';
import { addDays, fromNow, type JobRow, seedBook } from '../../../../scripts/lib/seed';
import { connectTestDb, eventually, resetTables, seed } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { schedulerConfig, startScheduler, testConsumer } from '../../test/scheduler-testing';
import { SchedulerCycleService } from './scheduler-cycle.service';

describe('SchedulerCycleService: dispatch and gauges', () => {
  let db: Client;
  let config: AppConfig;
  let app: INestApplication;
  let cycle: SchedulerCycleService;
  let consumer: Consumer | undefined;

  beforeAll(async () => {
    db = await connectTestDb();
    config = schedulerConfig(isolatedKafkaEnv('sched-dispatch'), {
      VALUATION_SCHEDULER_BATCH_SIZE: '2',
      VALUATION_SCHEDULER_MAX_IN_FLIGHT: '5',
      VALUATION_ALERT_ATTEMPT_THRESHOLD: '5',
    });
    app = await startScheduler(config);
    cycle = app.get(SchedulerCycleService);
  });
  afterAll(async () => {
    await consumer?.disconnect();
    await app.close();
    await db.end();
  });
  beforeEach(() => resetTables(db));

  const statuses = async () =>
    (await db.query(`SELECT status, count(*)::int AS n FROM portfolio_valuation_jobs GROUP BY 1 ORDER BY 1`))
      .rows;
  const metric = async (name: string) => (await register.getSingleMetric(name)?.get())?.values ?? [];

  it('publishes due jobs to valuation_required, keyed by portfolio, with their claim', async () => {
    const ids = [
      await seed.job(db, 'P1', 'S1', '2025-01-02'),
      await seed.job(db, 'P2', 'S1', '2025-01-03', 4),
      await seed.job(db, 'P1', 'S2', '2025-01-04'),
    ];
    const received: { key: string; value: Record<string, unknown> }[] = [];
    consumer = testConsumer(config, `${config.kafka.topics.valuationRequired}.spec`);
    await consumer.connect();
    await consumer.subscribe({ topic: config.kafka.topics.valuationRequired, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        received.push({ key: String(message.key), value: JSON.parse(String(message.value)) });
      },
    });

    await expect(cycle.dispatch()).resolves.toBe(3);

    await eventually(async () => (received.length >= 3 ? true : undefined), 20000, 'three messages');
    const { rows } = await db.query(
      `SELECT id::text AS job_id, claim_token, correlation_id FROM portfolio_valuation_jobs WHERE status = 'PROCESSING'`,
    );
    const byId = Object.fromEntries(rows.map((r) => [r.job_id, r]));
    expect(received.map((m) => m.value.job_id).sort()).toEqual([...ids].sort());
    for (const { key, value } of received) {
      const row = byId[value.job_id as string];
      expect(Object.keys(value).sort()).toEqual(
        [
          'claim_token',
          'correlation_id',
          'epoch',
          'job_id',
          'portfolio_id',
          'security_id',
          'valuation_date',
        ].sort(),
      );
      expect(value).toMatchObject({ claim_token: row.claim_token, correlation_id: row.correlation_id });
      expect(key).toBe(value.portfolio_id);
    }
    expect(received.find((m) => m.value.job_id === ids[1])?.value).toMatchObject({
      portfolio_id: 'P2',
      security_id: 'S1',
      valuation_date: '2025-01-03',
      epoch: 4,
    });
    expect(await metric('valuation_jobs_dispatched_total')).toEqual([expect.objectContaining({ value: 3 })]);
  });

  it('never has more than VALUATION_SCHEDULER_MAX_IN_FLIGHT jobs in flight', async () => {
    for (let d = 1; d <= 8; d++) await seed.job(db, 'P1', 'S1', `2025-02-0${d}`);
    await db.query(`UPDATE portfolio_valuation_jobs SET status = 'PROCESSING', claim_token = gen_random_uuid(),
                      claim_expires_at = now() + interval '5 minutes' WHERE valuation_date = '2025-02-01'`);

    await expect(cycle.dispatch()).resolves.toBe(4);
    await expect(cycle.dispatch()).resolves.toBe(0);

    expect(await app.get(JobClaimsRepository).countInFlight()).toBe(5);
    expect(await statuses()).toEqual([
      { status: 'PENDING', n: 3 },
      { status: 'PROCESSING', n: 5 },
    ]);
  });

  it('honours backoff to the boundary: a job due in 2 s is not claimed before then, and is after', async () => {
    await seed.job(db, 'P1', 'S1', '2025-01-02');
    await db.query(`UPDATE portfolio_valuation_jobs SET next_attempt_at = now() + interval '2 seconds'`);

    await expect(cycle.dispatch()).resolves.toBe(0);
    await new Promise((r) => setTimeout(r, 1500));
    await expect(cycle.dispatch()).resolves.toBe(0);
    await new Promise((r) => setTimeout(r, 700));
    await expect(cycle.dispatch()).resolves.toBe(1);
  });

  it('claims through the due index, not a scan of the settled jobs', async () => {
    await seedBook(db, {
      jobs: Array.from({ length: 50_000 }, (_, i) => ({
        portfolioId: `P${(i + 1) % 500}`,
        securityId: `S${Math.floor((i + 1) / 500)}`,
        date: addDays('2020-01-01', (i + 1) % 1000),
        status: 'COMPLETE',
      })),
    });
    for (let d = 1; d <= 5; d++) await seed.job(db, 'PX', 'SX', `2025-03-0${d}`);
    await db.query('ANALYZE portfolio_valuation_jobs');
    const ds = app.get(DataSource);
    const spy = jest.spyOn(ds, 'query');
    const claims = app.get(JobClaimsRepository);
    const claimed = await claims.claimDueJobs(1, 60);
    const [sql, params] = spy.mock.calls.find(([q]) => q.includes('SKIP LOCKED')) ?? ['', []];
    expect(sql).toContain('FOR UPDATE SKIP LOCKED');
    spy.mockRestore();
    await claims.releaseClaims(claimed);

    const { rows } = await db.query<{ 'QUERY PLAN': { Plan: Record<string, unknown> }[] }>(
      `EXPLAIN (FORMAT JSON) ${sql}`,
      params as unknown[],
    );
    const nodes: { type: string; relation?: string; index?: string }[] = [];
    const walk = (n: Record<string, unknown>) => {
      nodes.push({
        type: n['Node Type'] as string,
        relation: n['Relation Name'] as string,
        index: n['Index Name'] as string,
      });
      for (const child of (n.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
    };
    walk(rows[0]['QUERY PLAN'][0].Plan);

    // With five PENDING rows among 50,000 settled ones the planner may take the due index or the
    // (status, id) one, depending on the statistics of the moment: both read only PENDING rows (the
    // update then finds the claimed rows by primary key).
    const findsDue = nodes.filter(
      (n) => n.relation === 'portfolio_valuation_jobs' && n.index !== undefined && !n.index.endsWith('_pkey'),
    );
    expect(findsDue.map((n) => n.index)).toEqual([
      expect.stringMatching(/^valuation_jobs_(due|status)_idx$/),
    ]);
    expect(nodes).not.toContainEqual(
      expect.objectContaining({ type: 'Seq Scan', relation: 'portfolio_valuation_jobs' }),
    );
  });

  it('refreshes the gauges from the table', async () => {
    const job = (
      date: string,
      status: JobRow['status'],
      attemptCount: number,
      dueInSeconds: number,
    ): JobRow => ({
      portfolioId: 'P1',
      securityId: 'S1',
      date,
      status,
      attemptCount,
      nextAttemptAt: fromNow(dueInSeconds),
    });
    await seedBook(db, {
      jobs: [
        job('2025-01-01', 'PENDING', 6, -60),
        job('2025-01-02', 'PENDING', 5, -10),
        job('2025-01-03', 'PENDING', 9, 3600), // not due yet
        job('2025-01-04', 'PROCESSING', 11, 0),
        job('2025-01-05', 'FAILED', 20, 0),
        job('2025-01-06', 'COMPLETE', 30, 0),
      ],
    });

    await cycle.refreshGauges();

    const jobs = Object.fromEntries((await metric('valuation_jobs')).map((v) => [v.labels.status, v.value]));
    expect(jobs).toEqual({
      PENDING: 3,
      PROCESSING: 1,
      FAILED: 1,
      COMPLETE: 1,
      SKIPPED_NO_POSITION: 0,
      SKIPPED_SUPERSEDED: 0,
    });
    expect((await metric('valuation_job_attempts_max'))[0].value).toBe(11);
    expect((await metric('valuation_jobs_over_attempt_threshold'))[0].value).toBe(2);
    const oldest = (await metric('valuation_job_oldest_due_seconds'))[0].value;
    expect(oldest).toBeGreaterThanOrEqual(60);
    expect(oldest).toBeLessThan(65);
  });

  it('releases at once the claims of a batch whose publish failed', async () => {
    const failing = await startScheduler(config, {
      customize: (b) =>
        b
          .overrideProvider(EventPublisher)
          .useValue({ publish: () => Promise.reject(new Error('broker unavailable')) }),
    });
    try {
      for (let d = 1; d <= 3; d++) await seed.job(db, 'P1', 'S1', `2025-01-0${d}`);

      await expect(failing.get(SchedulerCycleService).dispatch()).rejects.toThrow(
        'publishing 2 jobs failed, 2 claims released: broker unavailable',
      );

      const { rows } = await db.query(
        `SELECT DISTINCT status, attempt_count, claim_token, claim_expires_at FROM portfolio_valuation_jobs`,
      );
      expect(rows).toEqual([
        { status: 'PENDING', attempt_count: 0, claim_token: null, claim_expires_at: null },
      ]);
    } finally {
      await failing.close();
    }
  });

  it('gives up a publish the broker does not acknowledge in time, and releases its claims', async () => {
    const hanging = await startScheduler(config, {
      limits: { dispatchPublishTimeoutMs: 200 },
      customize: (b) =>
        b.overrideProvider(EventPublisher).useValue({ publish: () => new Promise<void>(() => undefined) }),
    });
    try {
      for (let d = 1; d <= 2; d++) await seed.job(db, 'P1', 'S1', `2025-01-0${d}`);

      await expect(hanging.get(SchedulerCycleService).dispatch()).rejects.toThrow(
        'publishing 2 jobs failed, 2 claims released: the broker did not answer within 200 ms',
      );
      const { rows } = await db.query(`SELECT DISTINCT status, claim_token FROM portfolio_valuation_jobs`);
      expect(rows).toEqual([{ status: 'PENDING', claim_token: null }]);
    } finally {
      await hanging.close();
    }
  });
});
