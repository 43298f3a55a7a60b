import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INestApplication } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import { Client } from 'pg';
import { AppConfig, loadConfig } from '@app/config';
import { createKafka } from '@app/messaging';
import { startCalculator, TestKafka } from '../../../test/support/calculator-app';
import {
  connectTestDb,
  eventually,
  resetTables,
  seed,
  testDatabaseUrl,
} from '../../../test/support/database';
import { isolatedKafkaEnv } from '../../../test/support/kafka';
import { ensureSaslBroker, SaslBroker, SaslMechanism } from '../../../test/support/sasl-broker';

const ROOT = join(__dirname, '..', '..', '..');
const DAY = '2024-03-01';

/** Runs a built app until it exits (or `timeoutMs` passes); its output and exit code. */
function runApp(app: 'calculator' | 'scheduler', env: Record<string, string>, timeoutMs: number) {
  return new Promise<{ code: number | null; output: string; ms: number }>((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [join(ROOT, `dist/apps/${app}/src/main.js`)], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', TZ: 'UTC', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

/** Contract §10: the apps reach a broker over TLS with SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). */
describe('Kafka over SASL_SSL (real SASL_SSL broker and database)', () => {
  let broker: SaslBroker;

  beforeAll(async () => {
    broker = await ensureSaslBroker();
  }, 240_000);
  afterAll(async () => {
    await broker?.release();
  }, 90_000);

  it.each<SaslMechanism>(['plain', 'scram-sha-256', 'scram-sha-512'])(
    'connects with %s through the apps’ client factory',
    async (mechanism) => {
      const config = loadConfig('calculator', broker.env(mechanism));
      const admin = createKafka(config.kafka).admin();
      await admin.connect();
      try {
        const cluster = await admin.describeCluster();
        expect(cluster.brokers).toEqual([expect.objectContaining({ host: '127.0.0.1', port: 29092 })]);
      } finally {
        await admin.disconnect();
      }
    },
  );

  describe('a calculator on SCRAM-SHA-512', () => {
    let db: Client;
    let app: INestApplication;
    let config: AppConfig;
    let kafka: TestKafka;
    let snapshotsOut: KafkaMessage[];

    beforeAll(async () => {
      db = await connectTestDb();
      await resetTables(db);
      ({ app, config } = await startCalculator('sasl', broker.env('scram-sha-512')));
      expect(config.kafka.sasl?.mechanism).toBe('scram-sha-512');
      kafka = new TestKafka(config);
      await kafka.connect();
      snapshotsOut = await kafka.collect(config.kafka.topics.snapshotPersisted);
    }, 120_000);
    afterAll(async () => {
      await kafka?.close();
      await app?.close();
      await db?.end();
    });

    it('values jobs sent through the broker and publishes their snapshot events there', async () => {
      const jobs = [
        { p: 'P-sasl-1', s: 'S-sasl-1', qty: '100', price: '120', mv: '12000.0000000000' },
        { p: 'P-sasl-2', s: 'S-sasl-2', qty: '10', price: '50.5', mv: '505.0000000000' },
      ];
      await seed.businessDate(db, DAY);
      for (const j of jobs) {
        await seed.portfolio(db, j.p, 'USD');
        await seed.instrument(db, j.s, 'USD');
        await seed.price(db, j.s, DAY, j.price, 'USD');
        await seed.position(db, {
          portfolioId: j.p,
          securityId: j.s,
          date: '2024-02-01',
          quantity: j.qty,
          costBasis: '1000',
          costBasisLocal: '1000',
        });
        await seed.positionState(db, j.p, j.s);
        await seed.job(db, j.p, j.s, DAY);
      }
      await kafka.send(
        config.kafka.topics.valuationRequired,
        jobs.map((j) => ({
          key: j.p,
          value: JSON.stringify({ portfolio_id: j.p, security_id: j.s, valuation_date: DAY, epoch: 0 }),
        })),
      );

      await eventually(
        async () => {
          const { rows } = await db.query(
            `SELECT count(*)::int AS n FROM portfolio_valuation_jobs WHERE status = 'COMPLETE'`,
          );
          return rows[0].n === jobs.length ? true : undefined;
        },
        30_000,
        'both jobs COMPLETE',
      );
      const { rows } = await db.query(
        `SELECT portfolio_id, market_value FROM daily_position_snapshots ORDER BY portfolio_id`,
      );
      expect(rows).toEqual(jobs.map((j) => ({ portfolio_id: j.p, market_value: j.mv })));

      await eventually(
        async () => (snapshotsOut.length >= jobs.length ? true : undefined),
        20_000,
        'snapshot events read back over SASL_SSL',
      );
      const events = snapshotsOut.map((m) => JSON.parse(m.value!.toString()));
      expect(events.map((e) => e.portfolio_id).sort()).toEqual(jobs.map((j) => j.p));
      expect(events[0]).toMatchObject({ date: DAY, epoch: 0, valuation_status: 'VALUED_CURRENT' });
    });
  });

  describe('the built apps with a wrong password', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kafka-sasl-'));
    // The built apps: jest's global setup builds them once for every spec that runs them.
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it.each([
      ['calculator', 'KAFKA_SASL_PASSWORD'],
      ['scheduler', 'KAFKA_SASL_PASSWORD_FILE'],
    ] as const)(
      'the %s exits 1 at once with one line naming the refused login (%s), never the password',
      async (app, variable) => {
        const wrong = `wrong-${randomBytes(8).toString('hex')}`;
        const password: Record<string, string> =
          variable === 'KAFKA_SASL_PASSWORD'
            ? { KAFKA_SASL_PASSWORD_FILE: '', KAFKA_SASL_PASSWORD: wrong }
            : { KAFKA_SASL_PASSWORD_FILE: join(dir, 'wrong.password') };
        writeFileSync(join(dir, 'wrong.password'), `${wrong}\n`, { mode: 0o600 });
        const { code, output, ms } = await runApp(
          app,
          {
            ...isolatedKafkaEnv(`sasl-wrong-${app}`),
            DATABASE_URL: testDatabaseUrl(),
            CALCULATOR_HTTP_PORT: '0',
            SCHEDULER_HTTP_PORT: '0',
            LOG_LEVEL: 'debug',
            ...broker.env('scram-sha-512'),
            ...password,
          },
          60_000,
        );
        expect({ code, withinBound: ms < 45_000 }).toEqual({ code: 1, withinBound: true });
        expect(output.split('\n')).toContain(
          `${app} failed to start: Kafka authentication failed (SASL SCRAM-SHA-512 as user valuation): ` +
            `check KAFKA_SASL_USERNAME and ${variable}`,
        );
        expect(output).not.toContain(wrong);
        expect(output).not.toContain(broker.password);
        // One line, not a stack trace.
        expect(output).not.toMatch(/^\s+at /m);
      },
      90_000,
    );
  });
});
