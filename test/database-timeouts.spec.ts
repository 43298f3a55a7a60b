import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '@app/persistence';
import { schedulerConfig, startScheduler } from '../apps/scheduler/test/scheduler-testing';
import { startCalculator } from './support/calculator-app';
import { connectTestDb, resetTables, seed, testDatabaseUrl } from './support/database';
import { isolatedKafkaEnv } from './support/kafka';

const STATEMENT_TIMEOUT_MS = 4321;
const LOCK_TIMEOUT_MS = 1234;
const TIMEOUTS = {
  DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
  DATABASE_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS),
};

/** What a rejected query carries: the SQLSTATE and the time it took to fail. */
async function failure(run: () => Promise<unknown>): Promise<{ code: string; ms: number }> {
  const started = Date.now();
  try {
    await run();
  } catch (error) {
    return { code: String((error as { code?: unknown }).code), ms: Date.now() - started };
  }
  throw new Error('the statement succeeded');
}

/**
 * Contract §10: every statement of both apps runs under DATABASE_STATEMENT_TIMEOUT_MS and
 * DATABASE_LOCK_TIMEOUT_MS, set on every session of their pools; the migration tool's sessions have
 * neither (a migration may legitimately run long).
 */
describe('statement and lock timeouts of the apps’ sessions', () => {
  let db: Client;

  beforeAll(async () => {
    db = await connectTestDb();
  });
  afterAll(() => db.end());

  /** The settings as several sessions of the pool see them (queries in parallel take several). */
  const settingsOfPool = async (ds: DataSource) =>
    Promise.all(
      [1, 2, 3].map(() =>
        ds
          .query<{ statement_timeout: string; lock_timeout: string; pid: number }[]>(
            `SELECT current_setting('statement_timeout') AS statement_timeout,
                    current_setting('lock_timeout') AS lock_timeout, pg_backend_pid() AS pid
               FROM pg_sleep(0.2)`,
          )
          .then((rows) => rows[0]),
      ),
    );

  describe.each([
    ['scheduler', () => startScheduler(schedulerConfig(isolatedKafkaEnv('timeouts-sched'), TIMEOUTS))],
    ['calculator', async () => (await startCalculator('timeouts-calc', TIMEOUTS)).app],
  ])('the %s', (_name, start: () => Promise<INestApplication>) => {
    let app: INestApplication;
    let ds: DataSource;

    beforeAll(async () => {
      app = await start();
      ds = app.get(DataSource);
    });
    afterAll(() => app?.close());

    it('runs every session of its pool under both timeouts', async () => {
      const sessions = await settingsOfPool(ds);
      expect(new Set(sessions.map((s) => s.pid)).size).toBe(3);
      for (const s of sessions) {
        expect(s).toMatchObject({
          statement_timeout: `${STATEMENT_TIMEOUT_MS}ms`,
          lock_timeout: `${LOCK_TIMEOUT_MS}ms`,
        });
      }
    });

    it('fails a statement blocked on a row lock held elsewhere after the lock timeout (55P03)', async () => {
      await resetTables(db);
      const id = await seed.job(db, 'P1', 'S1', '2025-01-02');
      await db.query('BEGIN');
      try {
        await db.query('SELECT 1 FROM portfolio_valuation_jobs WHERE id = $1 FOR UPDATE', [id]);
        const blocked = await failure(() =>
          ds.query(`UPDATE portfolio_valuation_jobs SET updated_at = now() WHERE id = $1`, [id]),
        );
        expect(blocked.code).toBe('55P03');
        // It waited for the lock (the timeout, not an immediate refusal), and not much longer.
        expect(blocked.ms).toBeGreaterThanOrEqual(LOCK_TIMEOUT_MS - 50);
        expect(blocked.ms).toBeLessThan(LOCK_TIMEOUT_MS + 3000);
      } finally {
        await db.query('ROLLBACK');
      }
    });

    it('cancels a statement that runs past the statement timeout (57014)', async () => {
      const slow = await failure(() => ds.query('SELECT pg_sleep(60)'));
      expect(slow.code).toBe('57014');
      expect(slow.ms).toBeGreaterThanOrEqual(STATEMENT_TIMEOUT_MS - 50);
      expect(slow.ms).toBeLessThan(STATEMENT_TIMEOUT_MS + 3000);
    });
  });

  it('leaves the migration tool’s sessions without them', async () => {
    // runMigrations and revertLastMigration build their DataSource exactly so.
    const ds = await new DataSource(dataSourceOptions(testDatabaseUrl(), 2)).initialize();
    try {
      const [row] = await ds.query<{ statement_timeout: string; lock_timeout: string }[]>(
        `SELECT current_setting('statement_timeout') AS statement_timeout,
                current_setting('lock_timeout') AS lock_timeout`,
      );
      expect(row).toEqual({ statement_timeout: '0', lock_timeout: '0' });
    } finally {
      await ds.destroy();
    }
  });
});
