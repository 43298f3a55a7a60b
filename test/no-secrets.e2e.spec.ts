import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'pg';
import { ManagedProcess, REPO_ROOT } from '../scripts/lib/managed-process';
import { connectTestDb, resetTables, seed, testDatabaseUrl } from './support/database';
import { isolatedKafkaEnv } from './support/kafka';

const LOG_DIR = join(REPO_ROOT, '.run', 'no-secrets');
const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Contract §10: secrets (a URL's password, operator tokens) never appear in a log line, an error
 * message, an HTTP response or a metric. The built apps run as processes at LOG_LEVEL=debug with
 * known secrets configured, do real work and answer every kind of request, fail at boot on a bad
 * configuration and on an unreachable database; then every byte they printed or answered is searched.
 */
describe('no secret in any output (built apps, real PostgreSQL and broker)', () => {
  const dbPassword = secret('pg-password');
  const token = secret('operator-token');
  const viewerToken = secret('viewer-token');
  const secrets = [dbPassword, token, viewerToken];
  let db: Client;
  const processes: ManagedProcess[] = [];
  const answers: string[] = [];
  const urlWithPassword = (base: string) => {
    const url = new URL(base);
    url.password = dbPassword; // the local server trusts local connections: the password is not checked
    return url.toString();
  };

  beforeAll(async () => {
    // The built apps: jest's global setup builds them once for every spec that runs them.
    rmSync(LOG_DIR, { recursive: true, force: true });
    db = await connectTestDb();
    await resetTables(db);
  });
  afterAll(async () => {
    for (const p of processes) await p.stop('SIGTERM', 10000);
    await db.end();
  });

  it('prints and answers nothing that contains a configured secret', async () => {
    const env = {
      ...isolatedKafkaEnv('no-secrets'),
      LOG_LEVEL: 'debug',
      NODE_ENV: 'production',
      DATABASE_URL: urlWithPassword(testDatabaseUrl()),
      OPERATOR_TOKENS: `ops:operator:${token},audit:viewer:${viewerToken}`,
      VALUATION_SCHEDULER_POLL_INTERVAL_MS: '200',
    };
    const scheduler = new ManagedProcess('scheduler', 'scheduler', await freePort(), env, LOG_DIR);
    const calculator = new ManagedProcess('calculator', 'calculator', await freePort(), env, LOG_DIR);
    processes.push(scheduler, calculator);
    scheduler.start();
    calculator.start();
    await Promise.all([scheduler.waitReady(), calculator.waitReady()]);

    // Real work: two jobs valued, one failing on a missing price (logged with its reason).
    await seed.portfolio(db, 'P1', 'USD');
    await seed.instrument(db, 'S1', 'USD');
    await seed.instrument(db, 'S2', 'USD');
    await seed.price(db, 'S1', '2024-03-01', '10', 'USD');
    for (const s of ['S1', 'S2']) {
      await seed.position(db, {
        portfolioId: 'P1',
        securityId: s,
        date: '2024-03-01',
        quantity: '1',
        costBasis: '1',
        costBasisLocal: '1',
      });
      await seed.positionState(db, 'P1', s);
    }
    const [done, waiting] = [
      await seed.job(db, 'P1', 'S1', '2024-03-01'),
      await seed.job(db, 'P1', 'S2', '2024-03-01'),
    ];
    const deadline = Date.now() + 30000;
    for (;;) {
      const { rows } = await db.query(
        `SELECT count(*)::int AS n FROM portfolio_valuation_jobs WHERE attempt_count > 0 OR status = 'COMPLETE'`,
      );
      if (rows[0].n === 2) break;
      if (Date.now() > deadline) throw new Error('the jobs were not attempted');
      await new Promise((r) => setTimeout(r, 200));
    }

    const ask = async (url: string, init: RequestInit = {}) => {
      const res = await fetch(url, init);
      answers.push(`${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
      return res.status;
    };
    const bearer = (t: string) => ({ headers: { authorization: `Bearer ${t}` } });
    for (const p of [scheduler, calculator]) {
      await ask(`${p.url}/health/live`);
      await ask(`${p.url}/health/ready`);
      await ask(`${p.url}/metrics`);
    }
    expect(await ask(`${scheduler.url}/jobs?limit=5`, bearer(token))).toBe(200);
    expect(await ask(`${scheduler.url}/jobs?limit=5`, bearer(viewerToken))).toBe(200);
    expect(await ask(`${scheduler.url}/jobs?limit=5`, bearer(`${token}x`))).toBe(401);
    expect(await ask(`${scheduler.url}/jobs?portfolio_id=%00`, bearer(token))).toBe(400);
    expect(
      await ask(`${scheduler.url}/jobs/${waiting}/retry`, { method: 'POST', ...bearer(viewerToken) }),
    ).toBe(403);
    expect(await ask(`${scheduler.url}/jobs/${waiting}/retry`, { method: 'POST', ...bearer(token) })).toBe(
      200,
    );
    expect(await ask(`${scheduler.url}/jobs/${done}/retry`, { method: 'POST', ...bearer(token) })).toBe(409);

    // Failures at boot: a URL the schema refuses, and a database that does not answer.
    const badUrl = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/apps/scheduler/src/main.js')], {
      env: { ...process.env, ...env, DATABASE_URL: `postgres://svc:${dbPassword}@db:5432` },
      encoding: 'utf8',
      timeout: 20000,
    });
    expect(badUrl.status).toBe(1);
    expect(badUrl.stderr).toMatch(/^Invalid configuration: DATABASE_URL /);
    const unreachable = new ManagedProcess(
      'calculator-no-db',
      'calculator',
      await freePort(),
      {
        ...env,
        DATABASE_URL: urlWithPassword('postgres://svc@127.0.0.1:1/valuation'),
      },
      LOG_DIR,
    );
    processes.push(unreachable);
    unreachable.start();
    await expect(unreachable.waitReady(20000)).rejects.toThrow();

    for (const p of processes) await p.stop('SIGTERM', 10000);
    const outputs = [
      ...processes.map((p) => readFileSync(p.logFile, 'utf8')),
      `${badUrl.stdout}${badUrl.stderr}`,
      ...answers,
    ];
    const leaks = secrets.filter((s) => outputs.some((o) => o.includes(s)));
    const lines = outputs.reduce((n, o) => n + o.split('\n').length, 0);
    expect(lines).toBeGreaterThan(50); // debug logging was on: there was plenty to search
    expect(outputs.join('\n')).toMatch(/"level":"debug"/);
    expect(leaks).toEqual([]);
  });
});
