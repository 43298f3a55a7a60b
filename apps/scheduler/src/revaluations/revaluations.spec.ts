import type { INestApplication } from '@nestjs/common';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import { fromNow, type JobRow, seedJobIds } from '../../../../scripts/lib/seed';
import { connectTestDb, resetTables, seed, testDatabaseUrl } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { bearer, schedulerConfig, startScheduler } from '../../test/scheduler-testing';
import { SchedulerCycleService } from '../cycle/scheduler-cycle.service';

const day = (d: number) => `2025-01-${String(d).padStart(2, '0')}`;
const ROOT = join(__dirname, '..', '..', '..', '..');

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** Revaluations (contract §9): the HTTP routes, the cycle's fan-out of them, the gauge, the command. */
describe('revaluations', () => {
  let db: Client;
  let app: INestApplication;
  let base: string;
  let cycle: SchedulerCycleService;

  beforeAll(async () => {
    db = await connectTestDb();
    app = await startScheduler(schedulerConfig(isolatedKafkaEnv('sched-revaluations')), {
      limits: { fanOutChunk: 3, fanOutTriggers: 10, fanOutRows: 100 },
    });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    cycle = app.get(SchedulerCycleService);
  });
  afterAll(async () => {
    await app.close();
    await db.end();
  });
  beforeEach(() => resetTables(db));

  const call = async (path: string, init: RequestInit = {}): Promise<Answer> => {
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  const post = (body: unknown, role: 'operator' | 'viewer' = 'operator') =>
    call('/revaluations', {
      method: 'POST',
      headers: { ...bearer(role), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const get = (id: string, role: 'operator' | 'viewer' = 'viewer') =>
    call(`/revaluations/${id}`, { headers: bearer(role) });
  const audit = async () =>
    (
      await db.query(
        `SELECT principal, role, action, target, outcome, detail FROM operator_audit ORDER BY id`,
      )
    ).rows;
  const revaluationCount = async () =>
    Number((await db.query(`SELECT count(*) FROM valuation_revaluations`)).rows[0].count);

  /** A job attempted twice, last written an hour ago; a PENDING one is due in an hour. */
  const job = async (
    p: string,
    s: string,
    d: number,
    status: JobRow['status'] = 'COMPLETE',
    epoch = 0,
  ): Promise<string> => {
    const [id] = await seedJobIds(db, [
      {
        portfolioId: p,
        securityId: s,
        date: day(d),
        epoch,
        status,
        attemptCount: 2,
        nextAttemptAt: status === 'PENDING' ? fromNow(3600) : null,
        updatedAt: fromNow(-3600),
      },
    ]);
    return id;
  };
  /** "P1/S1@5#0 COMPLETE a2 due" for every job: key, epoch, status, attempts, due now or not. */
  const jobTable = async () =>
    (
      await db.query(
        `SELECT portfolio_id || '/' || security_id || '@' || extract(day FROM valuation_date) || '#' || epoch
                || ' ' || status || ' a' || attempt_count
                || CASE WHEN status = 'PENDING' AND next_attempt_at <= now() THEN ' due' ELSE '' END AS k
           FROM portfolio_valuation_jobs ORDER BY portfolio_id, security_id, valuation_date, epoch`,
      )
    ).rows.map((r) => r.k);
  const fanOutUntilDone = async (id: string): Promise<number[]> => {
    const reopenedPerCycle: number[] = [];
    for (let i = 0; i < 20 && (await get(id)).body.status === 'RUNNING'; i++) {
      reopenedPerCycle.push((await cycle.fanOut()).reopened);
    }
    return reopenedPerCycle;
  };

  it('accepts a revaluation with 202 RUNNING, audits it, and shows it to a viewer', async () => {
    const answer = await post({ portfolio_id: 'P1', from: day(1), to: day(10), reason: 'vendor price fix' });
    expect(answer).toEqual({ status: 202, body: { id: '1', status: 'RUNNING' } });
    expect(await get('1')).toEqual({
      status: 200,
      body: {
        id: '1',
        status: 'RUNNING',
        portfolio_id: 'P1',
        security_id: null,
        from: day(1),
        to: day(10),
        reason: 'vendor price fix',
        requested_by: 'spec-operator',
        jobs_reopened: 0,
        jobs_settled: 0,
      },
    });
    expect(await audit()).toEqual([
      {
        principal: 'spec-operator',
        role: 'operator',
        action: 'revaluations.create',
        target: { portfolio_id: 'P1', from: day(1), to: day(10) },
        outcome: 'ok',
        detail: 'answered 202',
      },
    ]);
  });

  it.each([
    [
      'no portfolio nor security',
      { from: day(1), to: day(2), reason: 'r' },
      'portfolio_id or security_id is required (or both)',
    ],
    [
      'from after to',
      { portfolio_id: 'P1', from: day(3), to: day(2), reason: 'r' },
      'from: must not be after to',
    ],
    [
      '367 days',
      { security_id: 'S1', from: '2025-01-01', to: '2026-01-02', reason: 'r' },
      'to: the range covers more than 366 days',
    ],
    [
      'a NUL in portfolio_id',
      { portfolio_id: 'P\u00001', from: day(1), to: day(2), reason: 'r' },
      'portfolio_id: must not contain control characters or NUL',
    ],
    ['no reason', { portfolio_id: 'P1', from: day(1), to: day(2) }, 'reason: is required'],
    [
      'a blank reason',
      { portfolio_id: 'P1', from: day(1), to: day(2), reason: '  ' },
      'reason: must not be empty',
    ],
    [
      'a reason too long',
      { portfolio_id: 'P1', from: day(1), to: day(2), reason: 'x'.repeat(501) },
      'reason: is too long (at most 500 characters)',
    ],
    ['no from', { portfolio_id: 'P1', to: day(2), reason: 'r' }, 'from: is required'],
    [
      'year 0',
      { portfolio_id: 'P1', from: '0000-12-31', to: day(2), reason: 'r' },
      'from: must be on or after 0001-01-01',
    ],
    [
      'an unknown field',
      { portfolio: 'P1', from: day(1), to: day(2), reason: 'r' },
      'Unrecognized key: "portfolio"',
    ],
  ])('answers 400 to %s, audited as bad_request, and starts nothing', async (_, body, error) => {
    expect(await post(body)).toEqual({ status: 400, body: { error } });
    expect(await revaluationCount()).toBe(0);
    expect(await audit()).toEqual([
      expect.objectContaining({ action: 'revaluations.create', outcome: 'bad_request', detail: error }),
    ]);
  });

  it('accepts a range of exactly 366 days', async () => {
    const answer = await post({
      security_id: 'S1',
      from: '2024-01-01',
      to: '2024-12-31',
      reason: 'leap year',
    });
    expect(answer.status).toBe(202);
  });

  it('refuses a viewer with 403 (audited), and answers 404 and 400 on GET', async () => {
    expect(await post({ portfolio_id: 'P1', from: day(1), to: day(2), reason: 'r' }, 'viewer')).toEqual({
      status: 403,
      body: { error: 'role viewer may not do this: it needs operator' },
    });
    expect(await revaluationCount()).toBe(0);
    expect(await audit()).toEqual([
      expect.objectContaining({
        principal: 'spec-viewer',
        action: 'revaluations.create',
        outcome: 'forbidden',
      }),
    ]);
    expect(await get('42')).toEqual({ status: 404, body: { error: 'revaluation 42 does not exist' } });
    expect(await get('x1')).toEqual({ status: 400, body: { error: 'id: must be a positive whole number' } });
    expect((await call('/revaluations/1')).status).toBe(401);
  });

  it("re-opens the range's settled current-epoch jobs in chunks across cycles, then turns DONE", async () => {
    await seed.positionState(db, 'P1', 'S4', 1);
    for (let d = 1; d <= 7; d++) await job('P1', 'S1', d);
    await job('P1', 'S1', 11); // after the range
    await job('P1', 'S2', 3, 'FAILED');
    await job('P1', 'S2', 4, 'SKIPPED_NO_POSITION');
    await job('P1', 'S3', 5, 'PENDING'); // waiting: left as it is (not due)
    await job('P1', 'S3', 6, 'PROCESSING'); // in flight: left alone
    await job('P1', 'S4', 5, 'COMPLETE', 0); // an older epoch than the key's current one
    await job('P1', 'S4', 6, 'SKIPPED_SUPERSEDED', 0);
    await job('P1', 'S4', 5, 'COMPLETE', 1);
    await job('P2', 'S1', 5); // another portfolio

    const { body } = await post({ portfolio_id: 'P1', from: day(1), to: day(10), reason: 'restated prices' });
    const id = String(body.id);
    const perCycle = await fanOutUntilDone(id);

    // 10 jobs, 3 per chunk: four cycles re-open them, the fourth also finds the end.
    expect(perCycle).toEqual([3, 3, 3, 1]);
    expect(await jobTable()).toEqual([
      ...[1, 2, 3, 4, 5, 6, 7].map((d) => `P1/S1@${d}#0 PENDING a2 due`),
      'P1/S1@11#0 COMPLETE a2',
      'P1/S2@3#0 PENDING a2 due',
      'P1/S2@4#0 PENDING a2 due',
      'P1/S3@5#0 PENDING a2',
      'P1/S3@6#0 PROCESSING a2',
      'P1/S4@5#0 COMPLETE a2',
      'P1/S4@5#1 PENDING a2 due',
      'P1/S4@6#0 SKIPPED_SUPERSEDED a2',
      'P2/S1@5#0 COMPLETE a2',
    ]);
    expect(await get(id)).toMatchObject({
      status: 200,
      body: { status: 'DONE', jobs_reopened: 10, jobs_settled: 0 },
    });
    // A later cycle has nothing more to do for it.
    expect((await cycle.fanOut()).reopened).toBe(0);

    // Settled again (as the calculator would): counted; jobs never re-opened by it are not.
    await db.query(
      `UPDATE portfolio_valuation_jobs SET status = 'COMPLETE', updated_at = now()
        WHERE portfolio_id = 'P1' AND security_id = 'S1' AND valuation_date <= $1`,
      [day(4)],
    );
    expect((await get(id)).body).toMatchObject({ jobs_reopened: 10, jobs_settled: 4 });
  });

  it('by security re-opens the jobs of every portfolio holding it; with both, only that key', async () => {
    await job('P1', 'S1', 2);
    await job('P2', 'S1', 2);
    await job('P2', 'S2', 2);
    await job('P3', 'S2', 2);
    const bySecurity = String(
      (await post({ security_id: 'S1', from: day(1), to: day(2), reason: 'r' })).body.id,
    );
    const byKey = String(
      (await post({ portfolio_id: 'P2', security_id: 'S2', from: day(2), to: day(2), reason: 'r' })).body.id,
    );
    await fanOutUntilDone(bySecurity);
    await fanOutUntilDone(byKey);
    expect(await jobTable()).toEqual([
      'P1/S1@2#0 PENDING a2 due',
      'P2/S1@2#0 PENDING a2 due',
      'P2/S2@2#0 PENDING a2 due',
      'P3/S2@2#0 COMPLETE a2',
    ]);
    expect((await get(bySecurity)).body).toMatchObject({ status: 'DONE', jobs_reopened: 2 });
    expect((await get(byKey)).body).toMatchObject({ status: 'DONE', jobs_reopened: 1 });
  });

  it('reports the revaluations not DONE in valuation_revaluations_running', async () => {
    const gauge = async () => {
      await cycle.refreshGauges();
      const text = await (await fetch(`${base}/metrics`)).text();
      return /^valuation_revaluations_running (\d+)$/m.exec(text)?.[1];
    };
    expect(await gauge()).toBe('0');
    await job('P1', 'S1', 1);
    const id = String((await post({ portfolio_id: 'P1', from: day(1), to: day(1), reason: 'r' })).body.id);
    await post({ portfolio_id: 'P9', from: day(1), to: day(1), reason: 'r' });
    expect(await gauge()).toBe('2');
    await fanOutUntilDone(id);
    expect(await gauge()).toBe('0');
  });

  describe('npm run revalue (the built command)', () => {
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [join(ROOT, 'dist/apps/tools/src/main.js'), 'revalue', ...args],
          { cwd: ROOT, env: { ...process.env, DATABASE_URL: testDatabaseUrl() } },
          (error, stdout, stderr) =>
            resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const cli = `cli:${userInfo().username}`;

    it('starts a revaluation like POST /revaluations does, audited the same way, and says how to follow it', async () => {
      await job('P1', 'S1', 3);
      const result = await run([
        '--portfolio',
        'P1',
        '--security',
        'S1',
        '--from',
        day(1),
        '--to',
        day(5),
        '--reason',
        'restated prices',
      ]);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toContain('revaluation 1 RUNNING');
      expect(result.stdout).toContain('GET /revaluations/1');
      expect((await get('1')).body).toEqual({
        id: '1',
        status: 'RUNNING',
        portfolio_id: 'P1',
        security_id: 'S1',
        from: day(1),
        to: day(5),
        reason: 'restated prices',
        requested_by: cli,
        jobs_reopened: 0,
        jobs_settled: 0,
      });
      expect(await audit()).toEqual([
        {
          principal: cli,
          role: 'operator',
          action: 'revaluations.create',
          target: { portfolio_id: 'P1', security_id: 'S1', from: day(1), to: day(5) },
          outcome: 'ok',
          detail: 'revaluation 1 accepted',
        },
      ]);
      await fanOutUntilDone('1');
      expect((await get('1')).body).toMatchObject({ status: 'DONE', jobs_reopened: 1 });
    });

    it.each([
      [
        ['--from', day(1), '--to', day(2), '--reason', 'r'],
        '--portfolio or --security is required (or both)',
      ],
      [
        ['--portfolio', 'P1', '--from', '2025-13-01', '--to', day(2), '--reason', 'r'],
        '--from: must be a real',
      ],
      [['--portfolio', 'P1', '--from', day(1), '--to', day(2)], '--reason: is required'],
      [
        ['--portfolio', 'P1', '--from', day(3), '--to', day(2), '--reason', 'r'],
        '--from: must not be after to',
      ],
      [['--portfolio', 'P1', '--form', day(1), '--to', day(2), '--reason', 'r'], "Unknown option '--form'"],
      [['--portfolio', 'P1', 'extra'], 'extra'],
    ])('refuses %j with one line and exit code 2, writing nothing', async (args, message) => {
      const result = await run(args);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr.split('\n')).toEqual([expect.stringContaining(message), '']);
      expect(result.stderr).toMatch(/^revalue: /);
      expect(await revaluationCount()).toBe(0);
      expect(await audit()).toEqual([]);
    });
  });
});
