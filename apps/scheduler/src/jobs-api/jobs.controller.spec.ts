import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import type { Client } from 'pg';
import { fromNow, type JobRow, seedJobIds } from '../../../../scripts/lib/seed';
import { connectTestDb, resetTables } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { bearer, schedulerConfig, startScheduler } from '../../test/scheduler-testing';

/** The operators' API over HTTP (plain fetch against a real listening server and the real database). */
describe('JobsController', () => {
  let db: Client;
  let app: INestApplication;
  let base: string;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    db = await connectTestDb();
    app = await startScheduler(schedulerConfig(isolatedKafkaEnv('sched-api')));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });
  beforeEach(async () => {
    await resetTables(db);
    const rows: [string, string, string, JobRow['status'], number][] = [
      ['a', 'P1', 'S1', 'PENDING', 0],
      ['b', 'P1', 'S2', 'FAILED', 7],
      ['c', 'P2', 'S1', 'PENDING', 6],
      ['d', 'P2', 'S2', 'COMPLETE', 1],
      ['e', 'P1', 'S1', 'PROCESSING', 3],
    ];
    const seeded = await seedJobIds(
      db,
      rows.map(([, p, s, status, attempts], i) => ({
        portfolioId: p,
        securityId: s,
        date: `2025-01-0${i + 1}`,
        status,
        attemptCount: attempts,
        nextAttemptAt: fromNow(3600),
        failureReason: attempts > 0 ? 'no price' : null,
      })),
    );
    for (const [i, [name]] of rows.entries()) ids[name] = seeded[i];
  });

  /** A response body: a page of jobs, a job, or an error (`{"error": ...}`, contract §9). */
  interface Body {
    items: { id: string }[];
    limit: number;
    offset: number;
    error: string;
    next_attempt_at: string;
  }
  const call = async (path: string, init?: RequestInit) => {
    const res = await fetch(`${base}${path}`, { ...init, headers: bearer() });
    return { status: res.status, body: (await res.json()) as Body };
  };
  const get = (query: string) => call(`/jobs${query}`);
  const retry = (id: string) => call(`/jobs/${id}/retry`, { method: 'POST' });
  const names = (body: Body) => body.items.map((j) => Object.keys(ids).find((k) => ids[k] === j.id));

  it('lists jobs newest first with the default page, in snake_case', async () => {
    const { status, body } = await get('');
    expect(status).toBe(200);
    expect(names(body)).toEqual(['e', 'd', 'c', 'b', 'a']);
    expect(body).toMatchObject({ limit: 100, offset: 0 });
    expect(body.items[3]).toEqual({
      id: ids.b,
      portfolio_id: 'P1',
      security_id: 'S2',
      valuation_date: '2025-01-02',
      epoch: 0,
      status: 'FAILED',
      attempt_count: 7,
      failure_reason: 'no price',
      next_attempt_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/),
      correlation_id: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
  });

  it.each([
    ['?status=PENDING', ['c', 'a']],
    ['?status=PENDING,FAILED', ['c', 'b', 'a']],
    ['?min_attempts=6', ['c', 'b']],
    ['?status=PENDING&min_attempts=6', ['c']],
    ['?portfolio_id=P1', ['e', 'b', 'a']],
    ['?security_id=S2', ['d', 'b']],
    ['?from=2025-01-02&to=2025-01-04', ['d', 'c', 'b']],
    ['?limit=2', ['e', 'd']],
    ['?limit=2&offset=2', ['c', 'b']],
    ['?offset=10', []],
    ['?status=&min_attempts=&portfolio_id=', ['e', 'd', 'c', 'b', 'a']],
    ['?offset=10000', []],
    ['?from=0001-01-01&to=9999-12-31', ['e', 'd', 'c', 'b', 'a']],
    [`?portfolio_id=${'P'.repeat(200)}`, []],
  ])('filters and pages: %s', async (query, expected) => {
    const { status, body } = await get(query);
    expect(status).toBe(200);
    expect(names(body)).toEqual(expected);
  });

  it.each([
    ['?status=PENDING,DONE', /^status: must be one of PENDING, PROCESSING/],
    ['?min_attempts=abc', /^min_attempts: must be a whole number/],
    ['?min_attempts=1.5', /^min_attempts: must be a whole number/],
    ['?min_attempts=-1', /^min_attempts: must be a whole number/],
    ['?from=2025-1-01', /^from: must be a date YYYY-MM-DD/],
    ['?to=2025-02-30', /^to: must be a real calendar date/],
    ['?from=2025-01-05&to=2025-01-01', /^from: must not be after to/],
    ['?limit=0', /^limit: must be at least 1/],
    ['?limit=1001', /^limit: must be at most 1000/],
    ['?limit=ten', /^limit: must be a whole number/],
    ['?status=PENDING&status=FAILED', /^status: /],
    ['?stauts=PENDING', /Unrecognized key/],
    ['?offset=10001', /^offset: must be at most 10000$/],
    ['?min_attempts=2147483648', /^min_attempts: must be at most 2147483647$/],
    // Values PostgreSQL cannot store: refused with the reason, never a database error (500).
    ['?portfolio_id=%00', /^portfolio_id: must not contain control characters or NUL$/],
    ['?portfolio_id=P%001', /^portfolio_id: must not contain control characters or NUL$/],
    ['?security_id=S%1B1', /^security_id: must not contain control characters or NUL$/],
    ['?security_id=S%C2%851', /^security_id: must not contain control characters or NUL$/],
    [`?portfolio_id=${'P'.repeat(201)}`, /^portfolio_id: is too long \(at most 200 characters\)$/],
    ['?from=0000-01-01', /^from: must be on or after 0001-01-01$/],
    ['?to=0000-12-31', /^to: must be on or after 0001-01-01$/],
    ['?to=10000-01-01', /^to: must be a date YYYY-MM-DD$/],
    ['?from=%2B2025-01-01', /^from: must be a date YYYY-MM-DD$/],
    ['?from=2025-01-01%00', /^from: must be a date YYYY-MM-DD$/],
  ])('refuses bad input with a 400 that says why: %s', async (query, message) => {
    const { status, body } = await get(query);
    expect(status).toBe(400);
    expect(body).toEqual({ error: expect.stringMatching(message) });
  });

  it('makes a FAILED job due now, keeping its attempts', async () => {
    const { status, body } = await retry(ids.b);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: ids.b, status: 'PENDING', attempt_count: 7 });
    const { rows } = await db.query(
      `SELECT status, next_attempt_at <= now() AS due FROM portfolio_valuation_jobs WHERE id = $1`,
      [ids.b],
    );
    expect(rows[0]).toEqual({ status: 'PENDING', due: true });
  });

  it('makes a PENDING job in backoff due now', async () => {
    const { status, body } = await retry(ids.c);
    expect(status).toBe(200);
    expect(new Date(body.next_attempt_at).getTime()).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('answers 409 for a job in another status, 404 for an unknown one, 400 for a malformed id', async () => {
    expect(await retry(ids.d)).toMatchObject({
      status: 409,
      body: { error: expect.stringContaining('is COMPLETE') },
    });
    expect(await retry(ids.e)).toMatchObject({
      status: 409,
      body: { error: expect.stringContaining('is PROCESSING') },
    });
    expect(await retry('999999')).toMatchObject({
      status: 404,
      body: { error: 'job 999999 does not exist' },
    });
    expect(await retry('abc')).toMatchObject({
      status: 400,
      body: { error: 'id: must be a positive whole number' },
    });
    expect(await retry('99999999999999999999')).toMatchObject({ status: 400 });
    expect(await retry('%00')).toMatchObject({
      status: 400,
      body: { error: 'id: must be a positive whole number' },
    });
    const { rows } = await db.query(`SELECT status FROM portfolio_valuation_jobs WHERE id = $1`, [ids.d]);
    expect(rows[0].status).toBe('COMPLETE');
  });
});
