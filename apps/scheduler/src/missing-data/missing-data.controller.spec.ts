import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import type { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { AdminStatementLimit, MissingDataRepository } from '@app/persistence';
import { addDays, fromNow, type JobRow, seedBook } from '../../../../scripts/lib/seed';
import { connectTestDb, resetTables } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { bearer, schedulerConfig, startScheduler } from '../../test/scheduler-testing';

/** `GET /missing-data` (contract §9) over HTTP, against a real listening server and the real database. */
describe('MissingDataController', () => {
  let db: Client;
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    db = await connectTestDb();
    app = await startScheduler(schedulerConfig(isolatedKafkaEnv('sched-missing')));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });
  beforeEach(() => resetTables(db));

  /** A job as the retrying policy leaves it: PENDING (or `status`), waiting on `waitingOn`. */
  const job = (
    portfolio: string,
    security: string,
    date: string,
    waitingOn: string | null,
    attempts: number,
    createdAt: string,
    status: JobRow['status'] = 'PENDING',
  ) =>
    seedBook(db, {
      jobs: [
        {
          portfolioId: portfolio,
          securityId: security,
          date,
          status,
          attemptCount: attempts,
          waitingOn,
          createdAt,
          nextAttemptAt: fromNow(600),
        },
      ],
    });
  it('answers 200 with one entry per price or FX pair waited on, most jobs first', async () => {
    // PRICE:S1: three jobs; FX:EUR/USD: four jobs over two securities; PRICE:S2: one job.
    await job('P1', 'S1', '2025-01-03', 'PRICE:S1', 2, '2025-02-21T05:00:00Z');
    await job('P1', 'S1', '2025-01-01', 'PRICE:S1', 5, '2025-02-21T06:00:00Z');
    await job('P2', 'S1', '2025-01-02', 'PRICE:S1', 1, '2025-02-21T07:00:00Z');
    await job('P1', 'S3', '2025-02-01', 'FX:EUR/USD', 1, '2025-02-21T07:30:00Z');
    await job('P1', 'S3', '2025-02-02', 'FX:EUR/USD', 1, '2025-02-21T07:30:00Z');
    await job('P2', 'S4', '2025-01-15', 'FX:EUR/USD', 3, '2025-02-21T03:00:00.25Z');
    await job('P2', 'S4', '2025-02-20', 'FX:EUR/USD', 0, '2025-02-21T07:50:00Z');
    await job('P3', 'S2', '2025-03-01', 'PRICE:S2', 7, '2025-02-20T08:00:00Z');
    // Not waiting on data: not PENDING, or PENDING without waiting_on.
    await job('P1', 'S2', '2025-03-02', 'PRICE:S2', 9, '2025-02-19T08:00:00Z', 'PROCESSING');
    await job('P1', 'S2', '2025-03-03', null, 0, '2025-02-19T08:00:00Z');
    await job('P1', 'S2', '2025-03-04', null, 4, '2025-02-19T08:00:00Z', 'FAILED');

    const res = await fetch(`${base}/missing-data`, { headers: bearer('viewer') });

    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      {
        kind: 'fx',
        from_currency: 'EUR',
        to_currency: 'USD',
        from: '2025-01-15',
        to: '2025-02-20',
        jobs: 4,
        max_attempts: 3,
        waiting_since: '2025-02-21T03:00:00.250000Z',
      },
      {
        kind: 'price',
        security_id: 'S1',
        from: '2025-01-01',
        to: '2025-01-03',
        jobs: 3,
        max_attempts: 5,
        waiting_since: '2025-02-21T05:00:00.000000Z',
      },
      {
        kind: 'price',
        security_id: 'S2',
        from: '2025-03-01',
        to: '2025-03-01',
        jobs: 1,
        max_attempts: 7,
        waiting_since: '2025-02-20T08:00:00.000000Z',
      },
    ]);
  });

  it('answers 200 [] when nothing waits on data', async () => {
    await job('P1', 'S1', '2025-01-01', null, 0, '2025-02-21T07:00:00Z');
    const res = await fetch(`${base}/missing-data`, { headers: bearer('viewer') });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
  });

  it('answers 401 {"error"} without a token', async () => {
    await job('P1', 'S1', '2025-01-01', 'PRICE:S1', 1, '2025-02-21T07:00:00Z');
    const res = await fetch(`${base}/missing-data`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({
      error: 'a valid operator token is required (Authorization: Bearer <token>)',
    });
  });

  it('reads the waiting jobs through the partial index, never the whole table', async () => {
    await seedBook(db, {
      jobs: Array.from({ length: 20_000 }, (_, i) => ({
        portfolioId: `P${(i + 1) % 50}`,
        securityId: `S${(i + 1) % 7}`,
        date: addDays('2020-01-01', Math.floor((i + 1) / 350)),
        status: 'COMPLETE',
      })),
    });
    await job('P1', 'S1', '2025-01-01', 'PRICE:S1', 1, '2025-02-21T07:00:00Z');
    await db.query('ANALYZE portfolio_valuation_jobs');
    // The repository's own statement, captured by a stand-in DataSource, then explained for real.
    let sql = '';
    let params: unknown[] = [];
    const standIn = {
      query: (q: string, p: unknown[]) => ((sql = q), (params = p), Promise.resolve([])),
    } as unknown as DataSource;
    await new MissingDataRepository(standIn, new AdminStatementLimit()).list();
    const { rows } = await db.query(`EXPLAIN (FORMAT JSON) ${sql}`, params);
    const plan = JSON.stringify(rows[0]['QUERY PLAN']);
    expect(plan).toContain('valuation_jobs_waiting_idx');
    expect(plan).not.toContain('Seq Scan');
  });
});
