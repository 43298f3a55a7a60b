import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import { register } from 'prom-client';
import { connectTestDb, resetTables } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { schedulerConfig, startScheduler } from '../../test/scheduler-testing';
import { SchedulerCycleService } from './scheduler-cycle.service';

/** The retention step against the real database: what goes, what stays, and how much per cycle. */
describe('SchedulerCycleService: purge of published events, finished triggers and attempt history', () => {
  const LIMIT = 3;
  let db: Client;
  let app: INestApplication;
  let cycle: SchedulerCycleService;

  beforeAll(async () => {
    db = await connectTestDb();
    // 2 hours rather than the default 24, so the spec also shows the setting is the one applied.
    // And 3 days of attempt history rather than 30.
    const config = schedulerConfig(isolatedKafkaEnv('sched-purge'), {
      VALUATION_RETENTION_HOURS: '2',
      VALUATION_ATTEMPT_HISTORY_DAYS: '3',
    });
    app = await startScheduler(config, { limits: { purgeRows: LIMIT } });
    cycle = app.get(SchedulerCycleService);
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });
  beforeEach(() => resetTables(db));

  /**
   * An outbox event created `createdHoursAgo` and published `publishedHoursAgo` (null: never), with a
   * live relay lease when `leased`. Returns its id.
   */
  const event = async (
    name: string,
    createdHoursAgo: number,
    publishedHoursAgo: number | null,
    leased = false,
  ) =>
    (
      await db.query<{ id: string }>(
        `INSERT INTO valuation_outbox (topic, message_key, payload, created_at, published_at, relay_token,
                                       relay_lease_until)
         VALUES ('snapshots', $1, jsonb_build_object('name', $1::text), now() - make_interval(hours => $2),
                 now() - make_interval(secs => $3::float8 * 3600),
                 CASE WHEN $4 THEN gen_random_uuid() END, CASE WHEN $4 THEN now() + interval '1 minute' END)
         RETURNING id::text`,
        [name, createdHoursAgo, publishedHoursAgo, leased],
      )
    ).rows[0].id;

  /** A price trigger recorded `createdHoursAgo` and completed `completedHoursAgo` (null: still open). */
  const trigger = async (
    name: string,
    createdHoursAgo: number,
    completedHoursAgo: number | null,
    cursor = 0,
  ) =>
    (
      await db.query<{ id: string }>(
        `INSERT INTO valuation_triggers (kind, security_id, effective_date, created_at, completed_at, cursor_job_id)
         VALUES ('PRICE', $1, '2025-01-02', now() - make_interval(hours => $2),
                 now() - make_interval(secs => $3::float8 * 3600), $4)
         RETURNING id::text`,
        [name, createdHoursAgo, completedHoursAgo, cursor],
      )
    ).rows[0].id;

  /** An attempt-history row of job 1 that ended `finishedDaysAgo`. */
  const attempt = (n: number, finishedDaysAgo: number) =>
    db.query(
      `INSERT INTO valuation_job_attempts (job_id, attempt, claimed_at, finished_at, outcome, reason, worker)
       VALUES (1, $1, now() - make_interval(secs => $2::float8 * 86400 + 5),
               now() - make_interval(secs => $2::float8 * 86400), 'retry_scheduled', 'no price', 'calc-1')`,
      [n, finishedDaysAgo],
    );
  const attemptsLeft = async () =>
    (await db.query<{ attempt: number }>(`SELECT attempt FROM valuation_job_attempts ORDER BY id`)).rows.map(
      (r) => r.attempt,
    );

  const outboxLeft = async () =>
    (
      await db.query<{ name: string }>(`SELECT payload->>'name' AS name FROM valuation_outbox ORDER BY id`)
    ).rows.map((r) => r.name);
  const triggersLeft = async () =>
    (
      await db.query<{ name: string }>(`SELECT security_id AS name FROM valuation_triggers ORDER BY id`)
    ).rows.map((r) => r.name);
  const purgedTotal = async (table: string) =>
    (await register.getSingleMetric('valuation_rows_purged_total')?.get())?.values.find(
      (v) => v.labels.table === table,
    )?.value ?? 0;

  it('deletes events published longer ago than the retention, never a recent or an unpublished one', async () => {
    await event('published 3 h ago', 4, 3);
    await event('published 2.5 h ago', 72, 2.5);
    await event('published 1 h ago', 5, 1);
    await event('published just now', 3, 0);
    await event('never published, a month old', 720, null);
    await event('leased by a relay, a month old', 720, null, true);

    await expect(cycle.purgeExpired()).resolves.toEqual({ outbox: 2, triggers: 0, attempts: 0 });

    expect(await outboxLeft()).toEqual([
      'published 1 h ago',
      'published just now',
      'never published, a month old',
      'leased by a relay, a month old',
    ]);
    await expect(cycle.purgeExpired()).resolves.toEqual({ outbox: 0, triggers: 0, attempts: 0 });
  });

  it('deletes triggers completed longer ago than the retention, never a recent or an open one', async () => {
    await trigger('completed 3 h ago', 3, 3);
    await trigger('completed 26 h ago', 30, 26);
    await trigger('completed 1 h ago', 30, 1);
    await trigger('open, a month old', 720, null, 42);
    await trigger('open, new', 0, null);

    await expect(cycle.purgeExpired()).resolves.toEqual({ outbox: 0, triggers: 2, attempts: 0 });

    expect(await triggersLeft()).toEqual(['completed 1 h ago', 'open, a month old', 'open, new']);
    // The open trigger is untouched: the fan-out resumes it where it stopped.
    const { rows } = await db.query(
      `SELECT cursor_job_id::int AS cursor, completed_at FROM valuation_triggers WHERE security_id = 'open, a month old'`,
    );
    expect(rows).toEqual([{ cursor: 42, completed_at: null }]);
  });

  it('deletes at most the cycle limit per table, the longest-done first, and counts what it deleted', async () => {
    // Inserted in an order other than their publication, so "oldest first" means by published_at.
    for (const [i, hours] of [5, 9, 3, 8, 4].entries()) await event(`event ${hours} h`, 10 + i, hours);
    for (const hours of [6, 3, 7, 5]) await trigger(`trigger ${hours} h`, 10, hours);
    await trigger('open', 10, null);
    const outboxBefore = await purgedTotal('valuation_outbox');
    const triggersBefore = await purgedTotal('valuation_triggers');

    await expect(cycle.purgeExpired()).resolves.toEqual({ outbox: LIMIT, triggers: LIMIT, attempts: 0 });
    expect(await outboxLeft()).toEqual(['event 3 h', 'event 4 h']);
    expect(await triggersLeft()).toEqual(['trigger 3 h', 'open']);

    await expect(cycle.purgeExpired()).resolves.toEqual({ outbox: 2, triggers: 1, attempts: 0 });
    await expect(cycle.purgeExpired()).resolves.toEqual({ outbox: 0, triggers: 0, attempts: 0 });
    expect(await outboxLeft()).toEqual([]);
    expect(await triggersLeft()).toEqual(['open']);
    expect((await purgedTotal('valuation_outbox')) - outboxBefore).toBe(5);
    expect((await purgedTotal('valuation_triggers')) - triggersBefore).toBe(4);
  });

  it('skips a row another transaction holds instead of waiting for it, and takes it next cycle', async () => {
    await event('locked', 10, 5);
    await event('free', 10, 4);
    const other = await connectTestDb();
    try {
      await other.query('BEGIN');
      await other.query(`SELECT 1 FROM valuation_outbox WHERE payload->>'name' = 'locked' FOR UPDATE`);

      await expect(cycle.purgeExpired()).resolves.toEqual({ outbox: 1, triggers: 0, attempts: 0 });
      expect(await outboxLeft()).toEqual(['locked']);

      await other.query('ROLLBACK');
      await expect(cycle.purgeExpired()).resolves.toEqual({ outbox: 1, triggers: 0, attempts: 0 });
      expect(await outboxLeft()).toEqual([]);
    } finally {
      await other.end();
    }
  });

  it('deletes attempt history older than VALUATION_ATTEMPT_HISTORY_DAYS, at most the limit, oldest first', async () => {
    // Inserted in an order other than their end, so "oldest first" means by finished_at.
    for (const [n, days] of [
      [1, 5],
      [2, 10],
      [3, 4],
      [4, 2.9],
      [5, 7],
      [6, 0],
    ] as const)
      await attempt(n, days);
    const before = await purgedTotal('valuation_job_attempts');

    await expect(cycle.purgeExpired()).resolves.toEqual({ outbox: 0, triggers: 0, attempts: LIMIT });
    expect(await attemptsLeft()).toEqual([3, 4, 6]);
    await expect(cycle.purgeExpired()).resolves.toEqual({ outbox: 0, triggers: 0, attempts: 1 });
    await expect(cycle.purgeExpired()).resolves.toEqual({ outbox: 0, triggers: 0, attempts: 0 });
    expect(await attemptsLeft()).toEqual([4, 6]);
    expect((await purgedTotal('valuation_job_attempts')) - before).toBe(4);
  });

  it('finds the attempt rows to purge through the finished_at index, not a scan', async () => {
    await db.query(
      `INSERT INTO valuation_job_attempts (job_id, attempt, finished_at, outcome, worker)
       SELECT g, 1, now() - make_interval(days => g % 20), 'complete', 'calc-1' FROM generate_series(1, 5000) g`,
    );
    await db.query('ANALYZE valuation_job_attempts');
    const { rows } = await db.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT id FROM valuation_job_attempts
        WHERE finished_at IS NOT NULL AND finished_at < now() - make_interval(secs => 259200::float8)
        ORDER BY finished_at LIMIT 3 FOR UPDATE SKIP LOCKED`,
    );
    const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
    expect(plan).toContain('valuation_job_attempts_finished_idx');
    expect(plan).not.toMatch(/Seq Scan|Sort/);
  });

  it('runs as a step of every cycle', async () => {
    await event('published 3 h ago', 3, 3);
    await trigger('completed 3 h ago', 3, 3);

    const report = await cycle.runCycle(() => true);

    expect(report.purgeExpired).toEqual({ outbox: 1, triggers: 1, attempts: 0 });
    expect(await outboxLeft()).toEqual([]);
    expect(await triggersLeft()).toEqual([]);
  });
});
