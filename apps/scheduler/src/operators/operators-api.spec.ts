import { Controller, Get, HttpCode, type INestApplication, Post } from '@nestjs/common';
import { ConsoleLogger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import type { Client } from 'pg';
import { register } from 'prom-client';
import { connectTestDb, resetTables, seed } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { bearer, SPEC_TOKENS, schedulerConfig } from '../../test/scheduler-testing';
import { SchedulerModule } from '../scheduler.module';

/** A route added later (any but /health/* and /metrics): protected without saying so. */
@Controller('later')
class LaterController {
  @Get()
  list(): string[] {
    return [];
  }

  @Post()
  @HttpCode(202)
  create(): { status: string } {
    return { status: 'RUNNING' };
  }

  /** A failure that is not an HttpException, its message naming what must not be shown. */
  @Get('boom')
  boom(): never {
    throw Object.assign(new Error('connect ECONNREFUSED db.internal:5432 for user valuation'), {
      code: 'ECONNREFUSED',
    });
  }

  @Post('boom')
  boomAction(): never {
    return this.boom();
  }
}

/** Every line the app logs, as the JSON logger writes it (stdout and stderr), kept in `lines`. */
class CapturingLogger extends ConsoleLogger {
  constructor(readonly lines: string[]) {
    super('scheduler', { json: true, logLevels: ['fatal', 'error', 'warn', 'log'] });
  }

  protected override printMessages(...args: Parameters<ConsoleLogger['printMessages']>): void {
    const write = (chunk: string | Uint8Array) => {
      this.lines.push(String(chunk));
      return true;
    };
    const [out, err] = [process.stdout.write, process.stderr.write];
    process.stdout.write = write;
    process.stderr.write = write;
    try {
      super.printMessages(...args);
    } finally {
      process.stdout.write = out;
      process.stderr.write = err;
    }
  }
}

async function start(
  overrides: Record<string, string>,
  lines: string[],
): Promise<[INestApplication, string]> {
  register.clear();
  const config = schedulerConfig(isolatedKafkaEnv('sched-operators'), overrides);
  const moduleRef = await Test.createTestingModule({
    imports: [SchedulerModule.forRoot(config, { defaultMetrics: false, runLoop: false })],
    controllers: [LaterController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: new CapturingLogger(lines) });
  await app.listen(0, '127.0.0.1');
  return [app, `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`];
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  authenticate: string | null;
}

/** Tokens, roles, audit and the error body of the operators' API (contract §9), over real HTTP and PostgreSQL. */
describe("operators' API: tokens, roles, audit", () => {
  let db: Client;
  let app: INestApplication;
  let base: string;
  const lines: string[] = [];

  beforeAll(async () => {
    db = await connectTestDb();
    // A short lock timeout: the fail-closed case holds the audit table's lock.
    [app, base] = await start({ DATABASE_LOCK_TIMEOUT_MS: '500' }, lines);
  });
  afterAll(async () => {
    await app.close();
    await db.end();
    // Whatever happened, no token ever reached a log line.
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines)
      for (const token of Object.values(SPEC_TOKENS)) expect(line).not.toContain(token);
  });
  beforeEach(() => resetTables(db));

  const call = async (path: string, init: RequestInit = {}): Promise<Answer> => {
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    return {
      status: res.status,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      authenticate: res.headers.get('www-authenticate'),
    };
  };
  const retry = (id: string, headers: Record<string, string>) =>
    call(`/jobs/${id}/retry`, { method: 'POST', headers });
  const failedJob = async () => {
    const id = await seed.job(db, 'P1', 'S1', '2025-01-02');
    await db.query(`UPDATE portfolio_valuation_jobs SET status = 'FAILED' WHERE id = $1`, [id]);
    return id;
  };
  const statusOf = async (id: string) =>
    (await db.query(`SELECT status FROM portfolio_valuation_jobs WHERE id = $1`, [id])).rows[0].status;
  const audit = async () =>
    (
      await db.query(
        `SELECT principal, role, action, target, outcome, detail, at <= now() AS at_set
           FROM operator_audit ORDER BY id`,
      )
    ).rows;
  const auditLines = () =>
    lines
      .map((line) => JSON.parse(line) as { message?: Record<string, unknown> })
      .filter((line) => line.message?.audit === true)
      .map((line) => line.message);

  it.each([
    ['no Authorization header', {}],
    ['an unknown token', { authorization: `Bearer ${'f'.repeat(64)}` }],
    ['a token of another scheme', { authorization: `Basic ${SPEC_TOKENS.operator}` }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ])('answers 401 {"error"} to %s, on GET and POST', async (_, headers) => {
    const id = await failedJob();
    for (const answer of [
      await call('/jobs', { headers }),
      await retry(id, headers),
      await call('/later', { headers }),
      await call('/later', { method: 'POST', headers }),
    ]) {
      expect(answer).toEqual({
        status: 401,
        body: { error: 'a valid operator token is required (Authorization: Bearer <token>)' },
        authenticate: 'Bearer',
      });
    }
    expect(await statusOf(id)).toBe('FAILED');
    expect(await audit()).toEqual([]);
  });

  it('lets a viewer read, on every route, and never audits reads', async () => {
    expect(await call('/jobs', { headers: bearer('viewer') })).toMatchObject({ status: 200 });
    expect(await call('/jobs?limit=1', { headers: bearer('operator') })).toMatchObject({ status: 200 });
    expect(await call('/later', { headers: bearer('viewer') })).toMatchObject({
      status: 200,
      body: [],
    });
    expect(await audit()).toEqual([]);
  });

  it('keeps /health/* and /metrics open', async () => {
    expect((await call('/health/live')).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);
  });

  it('refuses a viewer on a POST with 403, audited as forbidden, and does nothing', async () => {
    const id = await failedJob();
    expect(await retry(id, bearer('viewer'))).toEqual({
      status: 403,
      body: { error: 'role viewer may not do this: it needs operator' },
      authenticate: null,
    });
    expect(await call('/later', { method: 'POST', headers: bearer('viewer') })).toMatchObject({
      status: 403,
    });
    expect(await statusOf(id)).toBe('FAILED');
    expect(await audit()).toEqual([
      {
        principal: 'spec-viewer',
        role: 'viewer',
        action: 'jobs.retry',
        target: { job_id: id },
        outcome: 'forbidden',
        detail: 'role viewer may not do this: it needs operator',
        at_set: true,
      },
      expect.objectContaining({ action: 'POST /later', target: {}, outcome: 'forbidden' }),
    ]);
  });

  it("audits an operator's POSTs with their outcome: 200, 404, 409, 400", async () => {
    const id = await failedJob();
    const done = await seed.job(db, 'P1', 'S2', '2025-01-02');
    await db.query(`UPDATE portfolio_valuation_jobs SET status = 'COMPLETE' WHERE id = $1`, [done]);
    const before = auditLines().length;

    expect(await retry(id, bearer())).toMatchObject({ status: 200, body: { id, status: 'PENDING' } });
    expect(await retry('999999', bearer())).toMatchObject({
      status: 404,
      body: { error: 'job 999999 does not exist' },
    });
    expect(await retry(done, bearer())).toMatchObject({
      status: 409,
      body: { error: `job ${done} is COMPLETE: only PENDING or FAILED jobs can be retried` },
    });
    expect(await retry('P%001', bearer())).toMatchObject({
      status: 400,
      body: { error: 'id: must be a positive whole number' },
    });
    expect(await call('/later', { method: 'POST', headers: bearer() })).toMatchObject({
      status: 202,
      body: { status: 'RUNNING' },
    });

    const who = { principal: 'spec-operator', role: 'operator', at_set: true };
    expect(await audit()).toEqual([
      { ...who, action: 'jobs.retry', target: { job_id: id }, outcome: 'ok', detail: 'answered 200' },
      {
        ...who,
        action: 'jobs.retry',
        target: { job_id: '999999' },
        outcome: 'not_found',
        detail: 'job 999999 does not exist',
      },
      {
        ...who,
        action: 'jobs.retry',
        target: { job_id: done },
        outcome: 'conflict',
        detail: `job ${done} is COMPLETE: only PENDING or FAILED jobs can be retried`,
      },
      {
        ...who,
        action: 'jobs.retry',
        // NUL cannot be stored in jsonb: replaced, so a bad request is audited like any other.
        target: { job_id: 'P\uFFFD1' },
        outcome: 'bad_request',
        detail: 'id: must be a positive whole number',
      },
      { ...who, action: 'POST /later', target: {}, outcome: 'ok', detail: 'answered 202' },
    ]);
    // One JSON log line per POST, saying the same.
    expect(auditLines().slice(before)).toEqual([
      expect.objectContaining({
        audit: true,
        principal: 'spec-operator',
        action: 'jobs.retry',
        outcome: 'ok',
      }),
      expect.objectContaining({ audit: true, outcome: 'not_found', target: { job_id: '999999' } }),
      expect.objectContaining({ audit: true, outcome: 'conflict' }),
      expect.objectContaining({ audit: true, outcome: 'bad_request' }),
      expect.objectContaining({ audit: true, action: 'POST /later', outcome: 'ok' }),
    ]);
  });

  it('fails closed: when the audit cannot be written, a POST answers 503 and does nothing', async () => {
    const id = await failedJob();
    const locker = await connectTestDb();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE operator_audit IN ACCESS EXCLUSIVE MODE');
      for (const headers of [bearer('operator'), bearer('viewer')]) {
        expect(await retry(id, headers)).toMatchObject({
          status: 503,
          body: { error: 'the audit trail cannot be written: nothing was done, try again shortly' },
        });
      }
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    expect(await statusOf(id)).toBe('FAILED');
    expect(await audit()).toEqual([]);
    // The log says why (the database's reason), the answer did not.
    expect(lines.some((l) => l.includes('audit record not written') && l.includes('lock timeout'))).toBe(
      true,
    );
  });

  it('answers any other error as 500 {"error": "internal error"}, the detail only in the log', async () => {
    for (const method of ['GET', 'POST']) {
      const answer = await call('/later/boom', { method, headers: bearer() });
      expect(answer).toEqual({ status: 500, body: { error: 'internal error' }, authenticate: null });
    }
    expect(await audit()).toEqual([
      expect.objectContaining({
        action: 'POST /later/boom',
        outcome: 'error',
        detail: 'internal error',
      }),
    ]);
    expect(lines.filter((l) => l.includes('db.internal:5432')).length).toBe(2);
    // Nest's own errors (an unknown route) have the same shape.
    expect(await call('/nowhere', { headers: bearer() })).toMatchObject({
      status: 404,
      body: { error: 'Cannot GET /nowhere' },
    });
  });
});

describe("operators' API with no token configured", () => {
  it('answers 401 to everyone and warns once at boot', async () => {
    const lines: string[] = [];
    const [app, base] = await start({ OPERATOR_TOKENS: '' }, lines);
    try {
      for (const headers of [{}, bearer('operator'), bearer('viewer')]) {
        const res = await fetch(`${base}/jobs`, { headers });
        expect(res.status).toBe(401);
      }
      expect((await fetch(`${base}/health/live`)).status).toBe(200);
      const warnings = lines.filter((l) => l.includes('no operator token configured'));
      expect(warnings).toHaveLength(1);
      expect(JSON.parse(warnings[0])).toMatchObject({ level: 'warn' });
    } finally {
      await app.close();
    }
  });
});
