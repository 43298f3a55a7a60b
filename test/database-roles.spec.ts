import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { runMigrations } from '@app/persistence';
import { schedulerConfig, startScheduler } from '../apps/scheduler/test/scheduler-testing';
import { startCalculator } from './support/calculator-app';
import { eventually, seed, testDatabaseUrl } from './support/database';
import { isolatedKafkaEnv } from './support/kafka';

const ROLES_SCRIPT = join(__dirname, '..', 'scripts', 'db', 'roles.sql');
const DAY = '2024-03-01';

/**
 * Contract §10: migrations run as a migrator role, the apps as a role with DML only. The roles come
 * from scripts/db/roles.sql, run with psql as the administrator on a fresh database; the migrator
 * migrates it; the scheduler and a calculator then run as the app role (their pools, readiness
 * probes and the leader lease's connection) and value a job end to end, while the same role cannot
 * create or drop a table. Role names are random per run; everything is dropped afterwards. The local
 * server trusts local connections, so the passwords the script sets are not checked here.
 */
describe('the two database roles', () => {
  const suffix = randomBytes(4).toString('hex');
  const migrator = `valuation_migrator_${suffix}`;
  const appRole = `valuation_app_${suffix}`;
  const database = `valuation_roles_${suffix}_test`;
  const base = new URL(testDatabaseUrl());
  const urlOf = (user: string, db = database) => {
    const url = new URL(base);
    url.username = user;
    url.pathname = `/${db}`;
    return url.toString();
  };
  let admin: Client;
  let db: Client;
  let dir: string;
  const apps: INestApplication[] = [];

  beforeAll(async () => {
    admin = new Client({ connectionString: urlOf(decodeURIComponent(base.username), 'postgres') });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${database}"`);

    // As an operator would: psql, as the administrator, on the project's database.
    await promisify(execFile)(
      'psql',
      [
        '--no-psqlrc',
        '--quiet',
        '-h',
        base.hostname,
        '-p',
        base.port || '5432',
        '-U',
        decodeURIComponent(base.username),
        '-d',
        database,
        '-v',
        `migrator=${migrator}`,
        '-v',
        `migrator_password=${randomBytes(16).toString('hex')}`,
        '-v',
        `app=${appRole}`,
        '-v',
        `app_password=${randomBytes(16).toString('hex')}`,
        '-f',
        ROLES_SCRIPT,
      ],
      { env: { ...process.env, PGPASSWORD: decodeURIComponent(base.password) } },
    );

    expect(await runMigrations(urlOf(migrator))).toContain('InitialSchema1764300000000');

    // Upstream's rows, written as the administrator.
    db = new Client({ connectionString: urlOf(decodeURIComponent(base.username)) });
    await db.connect();
    await seed.businessDate(db, DAY);
    await seed.portfolio(db, 'P-roles', 'USD');
    await seed.instrument(db, 'S-roles', 'EUR');
    await seed.price(db, 'S-roles', DAY, '120', 'EUR');
    await seed.fx(db, 'EUR', 'USD', DAY, '1.2');
    await seed.position(db, {
      portfolioId: 'P-roles',
      securityId: 'S-roles',
      date: DAY,
      quantity: '100',
      costBasis: '11000',
      costBasisLocal: '10000',
    });
    await seed.positionState(db, 'P-roles', 'S-roles');

    dir = mkdtempSync(join(tmpdir(), 'db-roles-'));
    writeFileSync(join(dir, 'app-password'), 'not-checked-under-trust\n');
  }, 60_000);

  afterAll(async () => {
    for (const app of apps.reverse()) await app.close();
    await db?.end();
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS "${appRole}"`);
    await admin.query(`DROP ROLE IF EXISTS "${migrator}"`);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the migrator the tables and the app role DML on each of them, nothing more', async () => {
    const { rows } = await db.query<{ table: string; owner: string; app: string }>(
      `SELECT c.relname AS table, pg_get_userbyid(c.relowner) AS owner,
              concat_ws(',',
                CASE WHEN has_table_privilege($1, c.oid, 'SELECT') THEN 'SELECT' END,
                CASE WHEN has_table_privilege($1, c.oid, 'INSERT') THEN 'INSERT' END,
                CASE WHEN has_table_privilege($1, c.oid, 'UPDATE') THEN 'UPDATE' END,
                CASE WHEN has_table_privilege($1, c.oid, 'DELETE') THEN 'DELETE' END,
                CASE WHEN has_table_privilege($1, c.oid, 'TRUNCATE') THEN 'TRUNCATE' END,
                CASE WHEN has_table_privilege($1, c.oid, 'REFERENCES') THEN 'REFERENCES' END,
                CASE WHEN has_table_privilege($1, c.oid, 'TRIGGER') THEN 'TRIGGER' END) AS app
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r'
        ORDER BY 1`,
      [appRole],
    );
    expect(rows.map((r) => r.table)).toEqual(
      expect.arrayContaining(['portfolio_valuation_jobs', 'valuation_outbox', 'valuation_migrations']),
    );
    for (const row of rows)
      expect(row).toEqual({ table: row.table, owner: migrator, app: 'SELECT,INSERT,UPDATE,DELETE' });
    const role = await db.query(
      `SELECT rolsuper, rolcreatedb, rolcreaterole, rolcanlogin FROM pg_roles WHERE rolname = $1`,
      [appRole],
    );
    expect(role.rows[0]).toEqual({
      rolsuper: false,
      rolcreatedb: false,
      rolcreaterole: false,
      rolcanlogin: true,
    });
  });

  it('runs the scheduler and a calculator as the app role, and values a job end to end', async () => {
    const kafka = isolatedKafkaEnv('db-roles');
    const env = {
      DATABASE_URL: urlOf(appRole),
      DATABASE_PASSWORD_FILE: join(dir, 'app-password'),
      VALUATION_SCHEDULER_POLL_INTERVAL_MS: '200',
      VALUATION_LEADER_LEASE_SECONDS: '3',
    };
    // Both boot only after checking, as the app role, that no migration is pending.
    const scheduler = await startScheduler(schedulerConfig(kafka, env), { runLoop: true });
    apps.push(scheduler);
    await scheduler.listen(0, '127.0.0.1');
    const calculator = await startCalculator('db-roles', { ...kafka, ...env });
    apps.push(calculator.app);

    const snapshot = await eventually(
      async () =>
        (
          await db.query<{ market_value: string; market_value_local: string }>(
            `SELECT market_value, market_value_local FROM daily_position_snapshots
              WHERE portfolio_id = 'P-roles' AND security_id = 'S-roles' AND date = $1`,
            [DAY],
          )
        ).rows[0],
      30_000,
      'the snapshot written as the app role',
    );
    expect(snapshot).toEqual({ market_value: '14400.0000000000', market_value_local: '12000.0000000000' });
    const job = await db.query(`SELECT status FROM portfolio_valuation_jobs WHERE portfolio_id = 'P-roles'`);
    expect(job.rows).toEqual([{ status: 'COMPLETE' }]);
    // The outbox relay published it (UPDATE of published_at, as the app role).
    await eventually(
      async () =>
        (await db.query(`SELECT 1 FROM valuation_outbox WHERE published_at IS NOT NULL`)).rowCount
          ? true
          : undefined,
      20_000,
      'the outbox event published',
    );

    // Every session of theirs is the app role's: the pools, the leader lease, the readiness probes.
    const ready = await Promise.all(
      [await scheduler.getUrl(), calculator.url].map(
        async (url) => (await fetch(`${url}/health/ready`)).status,
      ),
    );
    expect(ready).toEqual([200, 200]);
    const sessions = await db.query<{ usename: string; application_name: string }>(
      `SELECT DISTINCT usename, application_name FROM pg_stat_activity
        WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY 2`,
      [database],
    );
    expect(sessions.rows.length).toBeGreaterThan(0);
    for (const session of sessions.rows) expect(session.usename).toBe(appRole);
    const leader = await db.query(`SELECT holder_pid FROM valuation_scheduler_leader`);
    expect(leader.rows).toHaveLength(1);
  }, 60_000);

  it('refuses the app role any DDL (42501 insufficient_privilege)', async () => {
    const app = new Client({ connectionString: urlOf(appRole) });
    await app.connect();
    try {
      const refused = async (sql: string) => {
        const error = await app.query(sql).then(
          () => undefined,
          (e: { code?: string }) => e,
        );
        return error?.code;
      };
      expect(await refused('CREATE TABLE intruder (id int)')).toBe('42501');
      expect(await refused('DROP TABLE portfolios')).toBe('42501');
      expect(await refused('ALTER TABLE portfolios ADD COLUMN intruder int')).toBe('42501');
      expect(await refused('TRUNCATE valuation_outbox')).toBe('42501');
      expect(await refused('CREATE INDEX intruder_idx ON portfolios (base_currency)')).toBe('42501');
      // The row-level work it does need is there.
      expect((await app.query(`SELECT count(*)::int AS n FROM portfolios`)).rows).toEqual([{ n: 1 }]);
    } finally {
      await app.end();
    }
  });
});
