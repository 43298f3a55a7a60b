import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import type { Client } from 'pg';
import { connectTestDb, resetTables, seed } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { bearer, schedulerConfig, startScheduler } from '../../test/scheduler-testing';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** `GET /jobs/:id` over HTTP: the job as listed, plus its attempts oldest first (contract §9). */
describe('JobsController: GET /jobs/:id', () => {
  let db: Client;
  let app: INestApplication;
  let base: string;

  beforeAll(async () => {
    db = await connectTestDb();
    app = await startScheduler(schedulerConfig(isolatedKafkaEnv('sched-api-detail')));
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });
  beforeEach(() => resetTables(db));

  const call = async (path: string, headers: Record<string, string> = bearer('viewer')) => {
    const res = await fetch(`${base}${path}`, { headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  /** A history row of `jobId` that was claimed `claimedSecondsAgo` and ended 2 s later. */
  const attempt = (
    jobId: string,
    n: number,
    claimedSecondsAgo: number,
    outcome: string,
    reason: string | null,
    worker: string,
  ) =>
    db.query(
      `INSERT INTO valuation_job_attempts (job_id, attempt, claim_token, claimed_at, finished_at, outcome, reason, worker)
       VALUES ($1, $2, gen_random_uuid(), now() - make_interval(secs => $3), now() - make_interval(secs => $3 - 2),
               $4, $5, $6)`,
      [jobId, n, claimedSecondsAgo, outcome, reason, worker],
    );

  it('answers the job as GET /jobs lists it, with its attempts oldest first', async () => {
    const id = await seed.job(db, 'P1', 'S1', '2025-01-02');
    await db.query(
      `UPDATE portfolio_valuation_jobs SET attempt_count = 2, failure_reason = 'no price for S1 on or before 2025-01-02',
              attempt_seq = 3, next_attempt_at = now() + interval '10 minutes' WHERE id = $1`,
      [id],
    );
    // Written out of order: the answer is ordered by attempt, not by insertion.
    await attempt(id, 3, 100, 'retry_scheduled', 'no price for S1 on or before 2025-01-02', 'calc-b');
    await attempt(id, 1, 900, 'publish_failed', 'publish to the broker failed', 'scheduler');
    await attempt(id, 2, 600, 'lease_expired', 'claim lease expired', 'scheduler');
    const other = await seed.job(db, 'P1', 'S1', '2025-01-03');
    await attempt(other, 1, 50, 'complete', null, 'calc-a');

    const { status, body } = await call(`/jobs/${id}`);

    expect(status).toBe(200);
    const listed = await call('/jobs?status=PENDING&security_id=S1&from=2025-01-02&to=2025-01-02');
    const { attempts, ...job } = body;
    expect(job).toEqual((listed.body.items as unknown[])[0]);
    expect(job).toMatchObject({ id, status: 'PENDING', attempt_count: 2 });
    const list = attempts as Record<string, unknown>[];
    expect(list.map((a) => [a.attempt, a.outcome, a.reason, a.worker])).toEqual([
      [1, 'publish_failed', 'publish to the broker failed', 'scheduler'],
      [2, 'lease_expired', 'claim lease expired', 'scheduler'],
      [3, 'retry_scheduled', 'no price for S1 on or before 2025-01-02', 'calc-b'],
    ]);
    for (const a of list) {
      expect(Object.keys(a).sort()).toEqual([
        'attempt',
        'claimed_at',
        'finished_at',
        'outcome',
        'reason',
        'worker',
      ]);
      expect(a.claimed_at).toMatch(ISO);
      expect(a.finished_at).toMatch(ISO);
      expect((a.claimed_at as string) < (a.finished_at as string)).toBe(true);
    }
  });

  it('shows the attempt in flight of a PROCESSING job last, not yet finished', async () => {
    const id = await seed.job(db, 'P1', 'S1', '2025-01-02');
    await attempt(id, 1, 700, 'lease_expired', 'claim lease expired', 'scheduler');
    await db.query(
      `UPDATE portfolio_valuation_jobs SET status = 'PROCESSING', claim_token = gen_random_uuid(),
              claim_expires_at = now() + interval '5 minutes', attempt_seq = 2, attempt_started_at = now(),
              attempt_count = 1
        WHERE id = $1`,
      [id],
    );

    const { status, body } = await call(`/jobs/${id}`);

    expect(status).toBe(200);
    const list = body.attempts as Record<string, unknown>[];
    expect(list).toHaveLength(2);
    expect(list[0]).toMatchObject({ attempt: 1, outcome: 'lease_expired' });
    expect(list[1]).toEqual({
      attempt: 2,
      claimed_at: expect.stringMatching(ISO),
      finished_at: null,
      outcome: null,
      reason: null,
      worker: null,
    });
  });

  it('answers an empty history for a job never attempted', async () => {
    const id = await seed.job(db, 'P1', 'S1', '2025-01-02');
    const { status, body } = await call(`/jobs/${id}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ id, status: 'PENDING', attempt_count: 0, attempts: [] });
  });

  it('answers 404 for an unknown job and 400 for a malformed id', async () => {
    await expect(call('/jobs/424242')).resolves.toEqual({
      status: 404,
      body: { error: 'job 424242 does not exist' },
    });
    for (const bad of ['abc', '0', '-1', '1.5', '99999999999999999999']) {
      const { status, body } = await call(`/jobs/${bad}`);
      expect(status).toBe(400);
      expect(typeof body.error).toBe('string');
    }
  });

  it('answers 401 without a token or with an unknown one', async () => {
    const id = await seed.job(db, 'P1', 'S1', '2025-01-02');
    expect((await call(`/jobs/${id}`, {})).status).toBe(401);
    expect((await call(`/jobs/${id}`, { authorization: 'Bearer nope' })).status).toBe(401);
    expect((await call(`/jobs/${id}`, bearer('operator'))).status).toBe(200);
  });
});
