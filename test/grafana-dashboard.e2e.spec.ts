import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import type { Client } from 'pg';
import { ManagedProcess, REPO_ROOT } from '../scripts/lib/managed-process';
import { connectTestDb, eventually, resetTables, seed, testDatabaseUrl } from './support/database';
import { isolatedKafkaEnv } from './support/kafka';

const DAY = '2024-03-01';
/** Grafana's rate window with the data source's 15 s interval is 1 m; here scrapes come every second. */
const RATE_INTERVAL = '20s';

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string; refId: string }[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * The dashboard of docker/grafana is only worth its panels' queries: a real Prometheus server (the
 * Debian package's, as `.ci/run` installs it) scrapes the built scheduler and calculator while they
 * value jobs, wait on missing data and dead-letter a bad message, and every query of every panel is
 * evaluated through Prometheus's HTTP API. Each must return data.
 */
describe('docker/grafana dashboard against a real Prometheus scraping the real apps', () => {
  const dir = mkdtempSync(join(tmpdir(), 'valuation-prometheus-'));
  const processes: ManagedProcess[] = [];
  let prometheus: ChildProcess | undefined;
  let db: Client;

  beforeAll(async () => {
    db = await connectTestDb();
    await resetTables(db);
  });
  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    for (const p of processes) await p.stop('SIGTERM', 10000);
    await db.end();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every panel query with data', async () => {
    const kafkaEnv = isolatedKafkaEnv('dashboard');
    const env = {
      ...kafkaEnv,
      NODE_ENV: 'production',
      DATABASE_URL: testDatabaseUrl(),
      VALUATION_SCHEDULER_POLL_INTERVAL_MS: '250',
      VALUATION_RETRY_BACKOFF_SECONDS: '3600',
    };
    const logDir = join(REPO_ROOT, '.run', 'dashboard');
    const scheduler = new ManagedProcess('scheduler', 'scheduler', await freePort(), env, logDir);
    const calculator = new ManagedProcess('calculator', 'calculator', await freePort(), env, logDir);
    processes.push(scheduler, calculator);

    // Work of every kind: valued jobs, one waiting on a price, one on an FX rate, a back-dated key.
    await seed.businessDate(db, DAY);
    await seed.portfolio(db, 'P-USD', 'USD');
    await seed.portfolio(db, 'P-EUR', 'EUR');
    for (const [security, currency] of [
      ['S-PRICED', 'USD'],
      ['S-UNPRICED', 'USD'],
    ])
      await seed.instrument(db, security, currency);
    await seed.price(db, 'S-PRICED', DAY, '10', 'USD');
    for (const [portfolio, security] of [
      ['P-USD', 'S-PRICED'],
      ['P-USD', 'S-UNPRICED'],
      ['P-EUR', 'S-PRICED'],
    ]) {
      await seed.position(db, {
        portfolioId: portfolio,
        securityId: security,
        date: '2024-02-28',
        quantity: '5',
        costBasis: '40',
        costBasisLocal: '40',
      });
      await seed.positionState(db, portfolio, security);
    }
    scheduler.start();
    calculator.start();
    await Promise.all([scheduler.waitReady(), calculator.waitReady()]);
    const kafka = new Kafka({
      clientId: 'dashboard-spec',
      brokers: [process.env.KAFKA_BROKERS!],
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: kafkaEnv.KAFKA_TOPIC_VALUATION_REQUIRED,
      messages: [{ key: 'bad', value: 'not json' }],
    });
    await producer.disconnect();
    await eventually(
      async () => {
        const { rows } = await db.query<{ waiting: number; complete: number }>(
          `SELECT count(*) FILTER (WHERE waiting_on IS NOT NULL)::int AS waiting,
                  count(*) FILTER (WHERE status = 'COMPLETE')::int AS complete
             FROM portfolio_valuation_jobs`,
        );
        return rows[0].waiting >= 2 && rows[0].complete >= 1 ? true : undefined;
      },
      60000,
      'jobs valued and jobs waiting on a price and on an FX rate',
    );

    const port = await freePort();
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        `  - { job_name: valuation-scheduler, static_configs: [ { targets: ['127.0.0.1:${scheduler.port}'] } ] }`,
        `  - { job_name: valuation-calculator, static_configs: [ { targets: ['127.0.0.1:${calculator.port}'] } ] }`,
      ].join('\n'),
    );
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    const api = `http://127.0.0.1:${port}/api/v1`;
    const query = async (expr: string) => {
      const res = await fetch(`${api}/query?query=${encodeURIComponent(expr)}`).catch(() => null);
      // Not listening yet, or still starting (503 while it replays its write-ahead log).
      if (res === null || res.status === 503) return { status: 'starting', series: 0 };
      const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown[] } };
      return { status: body.status, error: body.error, series: body.data?.result.length ?? 0 };
    };
    // Both targets scraped for long enough that every rate window holds several samples.
    await eventually(
      async () => ((await query('count_over_time(up[1m]) >= 12')).series === 2 ? true : undefined),
      60000,
      'Prometheus to have scraped both apps a dozen times',
    );

    const dashboard = JSON.parse(
      readFileSync(join(REPO_ROOT, 'docker', 'grafana', 'dashboards', 'valuation-pipeline.json'), 'utf8'),
    ) as { panels: Panel[] };
    const results: { panel: string; refId: string; status: string; error?: string; series: number }[] = [];
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row'))
      for (const target of panel.targets ?? []) {
        const answer = await query(target.expr.replaceAll('$__rate_interval', RATE_INTERVAL));
        results.push({ panel: panel.title, refId: target.refId, ...answer });
      }

    expect(results.length).toBeGreaterThanOrEqual(15);
    expect(results.filter((r) => r.status !== 'success' || r.series === 0)).toEqual([]);
  });
});
