import { type INestApplication, Logger } from '@nestjs/common';
import type { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  DatabaseReadiness,
  PERSISTENCE_OPTIONS,
  type PersistenceOptions,
  READINESS_APPLICATION_NAME,
} from '@app/persistence';
import { schedulerConfig, startScheduler } from '../apps/scheduler/test/scheduler-testing';
import { connectTestDb, eventually } from './support/database';
import { isolatedKafkaEnv } from './support/kafka';

/** The health controller's bound on one check. */
const CHECK_BOUND_MS = 2000;

/** The real check with a probe the spec chooses, to make it block. */
class SteerableReadiness extends DatabaseReadiness {
  sql = 'SELECT 1';
  protected override probe(): string {
    return this.sql;
  }
}

/**
 * `/health/ready`'s database check is bounded on both sides: it never waits for the process's pool,
 * the server cancels its statement when it blocks, and its connection is closed, so a probe that
 * cannot answer leaves nothing running in the database.
 */
describe('DatabaseReadiness', () => {
  let db: Client;
  let app: INestApplication;
  let readiness: SteerableReadiness;
  let base: string;

  beforeAll(async () => {
    db = await connectTestDb();
    app = await startScheduler(schedulerConfig(isolatedKafkaEnv('readiness')), {
      customize: (builder) =>
        builder.overrideProvider(DatabaseReadiness).useFactory({
          factory: (options: PersistenceOptions) => new SteerableReadiness(options),
          inject: [PERSISTENCE_OPTIONS],
        }),
    });
    await app.listen(0, '127.0.0.1');
    base = await app.getUrl();
    readiness = app.get(DatabaseReadiness);
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });
  afterEach(() => {
    readiness.sql = 'SELECT 1';
  });

  /** The answer of /health/ready, and the reason its database check logged (the body says only up/down). */
  const ready = async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      const started = Date.now();
      const res = await fetch(`${base}/health/ready`);
      const body = (await res.json()) as { status: string; checks: Record<string, string> };
      const logged = warn.mock.calls
        .map(([entry]) => entry as { msg?: string; check?: string; reason?: string })
        .find((entry) => entry.msg === 'readiness check failed' && entry.check === 'database');
      return {
        status: res.status,
        database: body.checks.database,
        reason: logged?.reason,
        ms: Date.now() - started,
      };
    } finally {
      warn.mockRestore();
    }
  };
  /** Sessions of the probe still connected (or running) in the database. */
  const probeSessions = async () =>
    Number(
      (
        await db.query(
          `SELECT count(*) AS n FROM pg_stat_activity
            WHERE datname = current_database() AND application_name = $1`,
          [READINESS_APPLICATION_NAME],
        )
      ).rows[0].n,
    );
  const noProbeLeft = () =>
    eventually(async () => ((await probeSessions()) === 0 ? true : undefined), 3000, 'the probe to be gone');

  it('is up when the database answers, and leaves no session behind', async () => {
    expect(await ready()).toMatchObject({ status: 200, database: 'up' });
    await noProbeLeft();
  });

  it('answers while every connection of the pool is busy: the probe never waits for the pool', async () => {
    const ds = app.get(DataSource);
    const busy = Array.from({ length: 5 }, () => ds.query('SELECT pg_sleep(3)'));
    try {
      await eventually(
        async () => {
          const { rows } = await db.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND query = 'SELECT pg_sleep(3)' AND state = 'active'`,
          );
          return rows[0].n === 5 ? true : undefined;
        },
        5000,
        'the pool to be exhausted',
      );
      expect(await ready()).toMatchObject({ status: 200, database: 'up' });
    } finally {
      await Promise.all(busy);
    }
  });

  it('is down within its bound when the probe waits on a lock, and the query is cancelled', async () => {
    readiness.sql = 'SELECT count(*) FROM portfolio_valuation_jobs';
    await db.query('BEGIN');
    try {
      await db.query('LOCK TABLE portfolio_valuation_jobs IN ACCESS EXCLUSIVE MODE');
      const answer = await ready();
      // Lock and statement timeouts of the probe are equal: whichever the server noticed first.
      expect(answer).toMatchObject({
        status: 503,
        database: 'down',
        reason: expect.stringMatching(/^canceling statement due to (lock|statement) timeout$/),
      });
      expect(answer.ms).toBeLessThan(CHECK_BOUND_MS + 1000);
      // Cancelled while the lock is still held: the server gave up, not the lock holder.
      await noProbeLeft();
    } finally {
      await db.query('ROLLBACK');
    }
  });

  it('is down within its bound when the probe does not finish, and the query is cancelled', async () => {
    readiness.sql = 'SELECT pg_sleep(60)';
    const answer = await ready();
    expect(answer).toMatchObject({
      status: 503,
      database: 'down',
      reason: 'canceling statement due to statement timeout',
    });
    expect(answer.ms).toBeLessThan(CHECK_BOUND_MS + 1000);
    await noProbeLeft();
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query = $1`,
      ['SELECT pg_sleep(60)'],
    );
    expect(rows[0].n).toBe(0);
  });
});
