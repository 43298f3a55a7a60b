import type { INestApplication } from '@nestjs/common';
import type { Consumer } from 'kafkajs';
import type { AddressInfo } from 'node:net';
import type { Client } from 'pg';
import type { AppConfig } from '@app/config';
import { connectTestDb, eventually, resetTables, seed } from '../../../test/support/database';
import { isolatedKafkaEnv } from '../../../test/support/kafka';
import { bearer, schedulerConfig, startScheduler, testConsumer } from './scheduler-testing';

/**
 * The whole scheduler with its loop running, against the real database and broker, and a stand-in
 * calculator that consumes valuation_required and completes each job under the claim it was sent.
 */
describe('scheduler end to end', () => {
  let db: Client;
  let config: AppConfig;
  let app: INestApplication;
  let base: string;
  let calculator: Consumer;
  const deliveries: string[] = [];

  beforeAll(async () => {
    db = await connectTestDb();
    await resetTables(db);
    for (const d of ['2025-01-08', '2025-01-09', '2025-01-10']) await seed.businessDate(db, d);
    for (const p of ['P1', 'P2']) {
      await seed.positionState(db, p, 'S1');
      await seed.position(db, {
        portfolioId: p,
        securityId: 'S1',
        date: '2025-01-08',
        quantity: '1',
        costBasis: '1',
        costBasisLocal: '1',
      });
    }
    config = schedulerConfig(isolatedKafkaEnv('sched-e2e'), { VALUATION_SCHEDULER_POLL_INTERVAL_MS: '200' });

    calculator = testConsumer(config, `${config.kafka.topics.valuationRequired}.calculator`);
    await calculator.connect();
    app = await startScheduler(config, { runLoop: true });
    await app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
    await calculator.subscribe({ topic: config.kafka.topics.valuationRequired, fromBeginning: true });
    await calculator.run({
      eachMessage: async ({ message }) => {
        const job = JSON.parse(String(message.value)) as {
          job_id: string;
          claim_token: string;
          valuation_date: string;
        };
        deliveries.push(`${String(message.key)}@${job.valuation_date}`);
        await db.query(
          `UPDATE portfolio_valuation_jobs SET status = 'COMPLETE', claim_token = NULL, claim_expires_at = NULL
            WHERE id = $1 AND status = 'PROCESSING' AND claim_token = $2`,
          [job.job_id, job.claim_token],
        );
      },
    });
  });
  afterAll(async () => {
    await calculator.disconnect();
    await app.close();
    await db.end();
  });

  const states = async () =>
    (
      await db.query(
        `SELECT portfolio_id || ' ' || to_char(watermark_date, 'YYYY-MM-DD') || ' ' || status AS s
           FROM position_state ORDER BY portfolio_id`,
      )
    ).rows.map((r) => r.s);
  const text = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, { headers });
    return { status: res.status, body: await res.text() };
  };

  it('backfills, dispatches, and advances the watermarks to the horizon', async () => {
    await eventually(
      async () =>
        (await states()).join() === 'P1 2025-01-10 CURRENT,P2 2025-01-10 CURRENT' ? true : undefined,
      20000,
      'both keys CURRENT at the horizon',
    );
    expect([...deliveries].sort()).toEqual([
      'P1@2025-01-08',
      'P1@2025-01-09',
      'P1@2025-01-10',
      'P2@2025-01-08',
      'P2@2025-01-09',
      'P2@2025-01-10',
    ]);
  });

  it('fans a back-dated price out to the jobs that used the older one, and dispatches them again', async () => {
    await seed.price(db, 'S1', '2025-01-09', '10', 'USD');
    await db.query(
      `INSERT INTO valuation_triggers (kind, security_id, effective_date) VALUES ('PRICE', 'S1', '2025-01-09')`,
    );

    await eventually(async () => (deliveries.length >= 10 ? true : undefined), 20000, 'four more deliveries');
    expect(deliveries.slice(6).sort()).toEqual([
      'P1@2025-01-09',
      'P1@2025-01-10',
      'P2@2025-01-09',
      'P2@2025-01-10',
    ]);
    await eventually(async () => {
      const { rows } = await db.query(
        `SELECT count(*)::int AS n FROM portfolio_valuation_jobs WHERE status <> 'COMPLETE'`,
      );
      return rows[0].n === 0 ? true : undefined;
    });
  });

  it('serves readiness, the metrics of the active instance, and the operators view', async () => {
    expect((await text('/health/ready')).status).toBe(200);
    const metrics = (await text('/metrics')).body;
    expect(metrics).toMatch(/^valuation_scheduler_leader 1$/m);
    expect(metrics).toMatch(/^valuation_jobs_dispatched_total 10$/m);
    expect(metrics).toMatch(/^valuation_jobs_over_attempt_threshold 0$/m);
    expect(metrics).toMatch(/^valuation_jobs\{status="PENDING"\} 0$/m);
    expect((await text('/jobs?portfolio_id=P2&limit=2')).status).toBe(401);
    const jobs = JSON.parse((await text('/jobs?portfolio_id=P2&limit=2', bearer('viewer'))).body);
    expect(jobs.items.map((j: { valuation_date: string }) => j.valuation_date)).toEqual([
      '2025-01-10',
      '2025-01-09',
    ]);
  });
});
