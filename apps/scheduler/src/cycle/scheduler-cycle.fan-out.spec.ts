import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import { fromNow, type JobRow, seedJobIds } from '../../../../scripts/lib/seed';
import { connectTestDb, resetTables, seed } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { schedulerConfig, startScheduler } from '../../test/scheduler-testing';
import { SchedulerCycleService } from './scheduler-cycle.service';

const day = (d: number) => `2025-01-${String(d).padStart(2, '0')}`;

describe('SchedulerCycleService: fan-out of price and FX arrivals', () => {
  let db: Client;
  let app: INestApplication;
  let cycle: SchedulerCycleService;

  beforeAll(async () => {
    db = await connectTestDb();
    app = await startScheduler(schedulerConfig(isolatedKafkaEnv('sched-fanout')), {
      limits: { fanOutChunk: 3, fanOutTriggers: 10, fanOutRows: 100 },
    });
    cycle = app.get(SchedulerCycleService);
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });
  beforeEach(() => resetTables(db));

  interface JobSeed {
    status?: JobRow['status'];
    attempts?: number;
    waitingOn?: string | null;
    epoch?: number;
    reason?: string | null;
  }
  /** A job last written an hour ago; one waiting on data is due again in ten minutes. */
  const row = (p: string, s: string, d: number, j: JobSeed): JobRow => ({
    portfolioId: p,
    securityId: s,
    date: day(d),
    epoch: j.epoch ?? 0,
    status: j.status ?? 'COMPLETE',
    attemptCount: j.attempts ?? 0,
    waitingOn: j.waitingOn ?? null,
    failureReason: j.reason ?? null,
    nextAttemptAt: (j.waitingOn ?? null) === null ? null : fromNow(600),
    updatedAt: fromNow(-3600),
  });
  const job = async (p: string, s: string, d: number, j: JobSeed = {}): Promise<string> =>
    (await seedJobIds(db, [row(p, s, d, j)]))[0];
  const jobs = (p: string, s: string, from: number, to: number, j: JobSeed = {}) =>
    seedJobIds(
      db,
      Array.from({ length: to - from + 1 }, (_, i) => row(p, s, from + i, j)),
    );
  const priceTrigger = async (s: string, d: number) =>
    (
      await db.query(
        `INSERT INTO valuation_triggers (kind, security_id, effective_date) VALUES ('PRICE', $1, $2) RETURNING id::text`,
        [s, day(d)],
      )
    ).rows[0].id as string;
  const fxTrigger = (from: string, to: string, d: number) =>
    db.query(
      `INSERT INTO valuation_triggers (kind, from_currency, to_currency, effective_date) VALUES ('FX', $1, $2, $3)`,
      [from, to, day(d)],
    );
  /** "P1/S1@5" for every job in status PENDING and due now (next_attempt_at null or past). */
  const dueKeys = async () =>
    (
      await db.query(
        `SELECT portfolio_id || '/' || security_id || '@' || extract(day FROM valuation_date) AS k
           FROM portfolio_valuation_jobs
          WHERE status = 'PENDING' AND COALESCE(next_attempt_at, created_at) <= now()
          ORDER BY portfolio_id, security_id, valuation_date`,
      )
    ).rows.map((r) => r.k);
  const openTriggers = async () =>
    Number(
      (await db.query(`SELECT count(*) FROM valuation_triggers WHERE completed_at IS NULL`)).rows[0].count,
    );

  it('re-opens the current-epoch settled jobs of the security from D to the day before its next price', async () => {
    await seed.price(db, 'S1', day(1), '10', 'USD');
    await seed.price(db, 'S1', day(3), '11', 'USD'); // the arrival
    await seed.price(db, 'S1', day(7), '12', 'USD');
    await seed.positionState(db, 'P3', 'S1', 1);
    await jobs('P1', 'S1', 1, 10, { attempts: 2 });
    await job('P2', 'S1', 4, { status: 'FAILED', attempts: 5, reason: 'retries exhausted: no price' });
    await job('P2', 'S1', 5, { status: 'SKIPPED_NO_POSITION' });
    await job('P3', 'S1', 4, { epoch: 0 }); // an older epoch than P3's current one
    await job('P1', 'S2', 4);
    await priceTrigger('S1', 3);

    for (let i = 0; i < 5 && (await openTriggers()) > 0; i++) await cycle.fanOut();

    expect(await dueKeys()).toEqual(['P1/S1@3', 'P1/S1@4', 'P1/S1@5', 'P1/S1@6', 'P2/S1@4']);
    const { rows } = await db.query(
      `SELECT DISTINCT attempt_count, next_attempt_at <= now() AS due_now, next_attempt_at > created_at AS requeued,
              waiting_on, claim_token
         FROM portfolio_valuation_jobs WHERE portfolio_id = 'P1' AND status = 'PENDING'`,
    );
    expect(rows).toEqual([
      { attempt_count: 2, due_now: true, requeued: true, waiting_on: null, claim_token: null },
    ]);
    expect(await openTriggers()).toBe(0);
  });

  it('re-opens every later date when no newer price exists, and wakes jobs that found no price', async () => {
    await seed.price(db, 'S1', day(8), '12', 'USD');
    await jobs('P1', 'S1', 6, 10);
    await job('P2', 'S1', 9, { status: 'PENDING', attempts: 3, waitingOn: 'PRICE:S1' });
    await job('P2', 'S1', 7, { status: 'PENDING', attempts: 3, waitingOn: 'PRICE:S1' }); // before D: still none
    await job('P2', 'S2', 9, { status: 'PENDING', attempts: 3, waitingOn: 'PRICE:S2' });
    await priceTrigger('S1', 8);

    for (let i = 0; i < 5 && (await openTriggers()) > 0; i++) await cycle.fanOut();

    expect(await dueKeys()).toEqual(['P1/S1@8', 'P1/S1@9', 'P1/S1@10', 'P2/S1@9']);
    const woken = await db.query(
      `SELECT attempt_count FROM portfolio_valuation_jobs WHERE portfolio_id = 'P2' AND security_id = 'S1' AND valuation_date = $1`,
      [day(9)],
    );
    expect(woken.rows[0].attempt_count).toBe(3);
  });

  it('works through a trigger in chunks across cycles, never revisiting a job it passed', async () => {
    await seed.price(db, 'S1', day(1), '10', 'USD');
    const ids = await jobs('P1', 'S1', 1, 7);
    const trigger = await priceTrigger('S1', 1);
    const cursor = async () =>
      (
        await db.query(
          `SELECT cursor_job_id::text AS c, completed_at FROM valuation_triggers WHERE id = $1`,
          [trigger],
        )
      ).rows[0];

    const first = await cycle.fanOut();
    expect(first).toMatchObject({ triggers: 1, completed: 0, reopened: 3 });
    expect((await cursor()).c).toBe(ids[2]);
    // A calculator values a re-opened job before the trigger is done: it must not be re-opened again.
    await db.query(`UPDATE portfolio_valuation_jobs SET status = 'COMPLETE' WHERE id = $1`, [ids[0]]);

    expect(await cycle.fanOut()).toMatchObject({ completed: 0, reopened: 3 });
    expect(await cycle.fanOut()).toMatchObject({ completed: 1, reopened: 1 });
    expect((await cursor()).completed_at).not.toBeNull();
    expect(await dueKeys()).toHaveLength(6);
    expect(await cycle.fanOut()).toMatchObject({ triggers: 0 });
  });

  it('gives every open trigger a chunk per cycle, so a large one does not hold back the next', async () => {
    await jobs('P1', 'S1', 1, 9);
    await jobs('P1', 'S2', 1, 2);
    await priceTrigger('S1', 1);
    await priceTrigger('S2', 1);

    expect(await cycle.fanOut()).toMatchObject({ triggers: 2, completed: 1, reopened: 5 });
    expect(await dueKeys()).toEqual(expect.arrayContaining(['P1/S2@1', 'P1/S2@2']));
  });

  it('withdraws the claim of a job in flight since before the arrival, not of one claimed after it', async () => {
    await seed.price(db, 'S1', day(1), '10', 'USD');
    const before = await job('P1', 'S1', 2, { status: 'PROCESSING' });
    const after = await job('P1', 'S1', 3, { status: 'PROCESSING' });
    await db.query(
      `UPDATE portfolio_valuation_jobs SET claim_token = gen_random_uuid(), claim_expires_at = now() + interval '5 minutes'`,
    );
    await db.query(
      `UPDATE portfolio_valuation_jobs SET updated_at = now() - interval '2 minutes' WHERE id = $1`,
      [before],
    );
    await db.query(`UPDATE portfolio_valuation_jobs SET updated_at = now() WHERE id = $1`, [after]);
    await priceTrigger('S1', 1);
    await db.query(`UPDATE valuation_triggers SET created_at = now() - interval '1 minute'`);

    await cycle.fanOut();

    const { rows } = await db.query(
      `SELECT id::text, status, claim_token IS NULL AS released FROM portfolio_valuation_jobs ORDER BY id`,
    );
    expect(rows).toEqual([
      { id: before, status: 'PENDING', released: true },
      { id: after, status: 'PROCESSING', released: false },
    ]);
  });

  it('re-opens the jobs whose currency pair an FX arrival changes, up to the next rate in that direction', async () => {
    await seed.fx(db, 'EUR', 'USD', day(1), '1.1');
    await seed.fx(db, 'EUR', 'USD', day(3), '1.2'); // the arrival
    await seed.fx(db, 'USD', 'EUR', day(4), '0.8'); // newer inverse: EUR→USD lookups still use day 3
    await seed.fx(db, 'EUR', 'USD', day(6), '1.3');
    for (const [p, base] of [
      ['PUSD', 'USD'],
      ['PEUR', 'EUR'],
      ['PCHF', 'CHF'],
    ])
      await seed.portfolio(db, p, base);
    for (const [s, ccy] of [
      ['SEUR', 'EUR'],
      ['SUSD', 'USD'],
      ['SEURP', 'EUR'],
    ])
      await seed.instrument(db, s, ccy);
    await seed.price(db, 'SEUR', day(1), '10', 'EUR');
    await seed.price(db, 'SUSD', day(1), '10', 'USD');
    await seed.price(db, 'SEURP', day(1), '10', 'USD'); // priced in USD, traded in EUR
    await jobs('PUSD', 'SEUR', 2, 6); // EUR instrument, USD base
    await jobs('PEUR', 'SUSD', 3, 3); // USD instrument, EUR base: the same pair the other way
    await jobs('PCHF', 'SEURP', 3, 3); // USD price → EUR instrument
    await jobs('PUSD', 'SUSD', 3, 3); // no FX at all
    await jobs('PCHF', 'SEUR', 3, 3); // EUR → CHF only
    await job('PCHF', 'SEURP', 5, { status: 'PENDING', waitingOn: 'FX:EUR/USD' });
    await fxTrigger('EUR', 'USD', 3);

    for (let i = 0; i < 5 && (await openTriggers()) > 0; i++) await cycle.fanOut();

    expect(await dueKeys()).toEqual([
      'PCHF/SEURP@3',
      'PCHF/SEURP@5',
      'PEUR/SUSD@3',
      'PUSD/SEUR@3',
      'PUSD/SEUR@4',
      'PUSD/SEUR@5',
    ]);
  });
});
