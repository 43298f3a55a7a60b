import { type INestApplication, Logger } from '@nestjs/common';
import type { Client } from 'pg';
import { connectTestDb, resetTables, seed } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { schedulerConfig, startScheduler } from '../../test/scheduler-testing';
import { SchedulerCycleService } from './scheduler-cycle.service';

const LOCK_TIMEOUT_MS = 1000;

/**
 * A table the cycle needs, locked by someone else (a migration, an operator's session): each step
 * that needs it fails after DATABASE_LOCK_TIMEOUT_MS instead of waiting, the steps that do not need
 * it still run, and the cycle after the lock is released does everything again.
 */
describe('SchedulerCycleService: a step stuck on a lock', () => {
  let db: Client;
  let app: INestApplication;
  let cycle: SchedulerCycleService;
  let errors: jest.SpyInstance;

  beforeAll(async () => {
    db = await connectTestDb();
    app = await startScheduler(
      schedulerConfig(isolatedKafkaEnv('sched-lock'), { DATABASE_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS) }),
    );
    cycle = app.get(SchedulerCycleService);
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });
  beforeEach(async () => {
    await resetTables(db);
    await seed.businessDate(db, '2025-01-10');
    errors = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => errors.mockRestore());

  const failedSteps = () =>
    errors.mock.calls
      .map(([message]) => /^step (\w+) failed: (.*)$/.exec(String(message)))
      .filter((m): m is RegExpExecArray => m !== null);

  it('fails the blocked steps after the lock timeout, runs the others, and recovers once released', async () => {
    const id = await seed.job(db, 'P1', 'S1', '2025-01-10');
    await db.query('BEGIN');
    await db.query('LOCK TABLE portfolio_valuation_jobs IN ACCESS EXCLUSIVE MODE');
    let blocked;
    const started = Date.now();
    try {
      blocked = await cycle.runCycle(() => true);
    } finally {
      await db.query('COMMIT');
    }
    const elapsed = Date.now() - started;

    const failed = failedSteps();
    expect(failed.map(([, step]) => step)).toEqual(
      expect.arrayContaining(['recoverExpiredClaims', 'supersedeObsolete', 'dispatch', 'refreshGauges']),
    );
    for (const [, , reason] of failed) expect(reason).toBe('canceling statement due to lock timeout');
    for (const [, step] of failed) expect(blocked).not.toHaveProperty(step);
    // The fan-out reads only the triggers: it ran.
    expect(blocked.fanOut).toEqual({ triggers: 0, completed: 0, reopened: 0, woken: 0 });
    // Each blocked step waited about one lock timeout, not for the lock.
    expect(elapsed).toBeLessThan(failed.length * (LOCK_TIMEOUT_MS + 1000) + 2000);

    errors.mockClear();
    const next = await cycle.runCycle(() => true);
    expect(failedSteps()).toEqual([]);
    expect(next.dispatch).toBe(1);
    expect(next).toHaveProperty('refreshGauges');
    const { rows } = await db.query(`SELECT status FROM portfolio_valuation_jobs WHERE id = $1`, [id]);
    expect(rows[0].status).toBe('PROCESSING');
  });

  it('fails only the writing steps while the table is locked against writes', async () => {
    await seed.job(db, 'P1', 'S1', '2025-01-10');
    await db.query('BEGIN');
    await db.query('LOCK TABLE portfolio_valuation_jobs IN SHARE ROW EXCLUSIVE MODE');
    let blocked;
    try {
      blocked = await cycle.runCycle(() => true);
    } finally {
      await db.query('COMMIT');
    }
    const failed = failedSteps().map(([, step]) => step);
    expect(failed).toContain('dispatch');
    expect(failed).not.toContain('refreshGauges');
    expect(blocked).toHaveProperty('refreshGauges');

    expect((await cycle.runCycle(() => true)).dispatch).toBe(1);
  });
});
