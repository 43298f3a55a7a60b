import { Client } from 'pg';
import { AdminStatementLimit, JobStatsRepository, MissingDataRepository } from '@app/persistence';
import { freshDatabase } from '../lib/infra';
import { runningOn } from './bench-context';

/**
 * The cost of the scheduler's gauge queries (refreshGauges) and of GET /missing-data as the job table
 * grows: `npm run -s build && node dist/scripts/bench/job-gauges.js`. The repositories' own methods run
 * against a scratch database (BENCH_DATABASE_URL, default valuation_gauges_bench, dropped first);
 * the median wall time of 7 runs per method, after a warm-up, is printed as a markdown table for
 * docs/benchmarks.md ("Job gauges").
 */
const SIZES = [10_000, 100_000, 250_000, 1_000_000];
const RUNS = 7;

async function main(): Promise<void> {
  const url = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/valuation_gauges_bench';
  if (!new URL(url).pathname.includes('bench'))
    throw new Error('BENCH_DATABASE_URL must name a *bench* database');
  await freshDatabase(url);
  const db = new Client({ connectionString: url });
  await db.connect();
  const ds = runningOn(db);
  const stats = new JobStatsRepository(ds);
  const missing = new MissingDataRepository(ds, new AdminStatementLimit());
  await db.query(`INSERT INTO business_dates (calendar_code, date) VALUES ('GLOBAL', '2025-12-31')`);

  const measures: Record<string, () => Promise<unknown>> = {
    'statusCounts exact': () => stats.statusCounts(Number.MAX_SAFE_INTEGER),
    'statusCounts estimated': () => stats.statusCounts(0),
    activeStats: () => stats.activeStats(5),
    dataStats: () => stats.dataStats('2025-12-31'),
    'GET /missing-data': () => missing.list(),
  };
  const lines = [
    `| jobs | ${Object.keys(measures).join(' (ms) | ')} (ms) | estimate error, COMPLETE |`,
    `| --- | ${Object.keys(measures)
      .map(() => '---')
      .join(' | ')} | --- |`,
  ];
  let have = 0;
  for (const size of SIZES) {
    // 1,000 keys (10 per portfolio), one job per key and day; per 100 jobs: 94 COMPLETE, 2 SKIPPED_*,
    // 2 PENDING waiting on a price or FX pair (of 40), 1 due PENDING, 1 FAILED.
    await db.query(
      `INSERT INTO portfolio_valuation_jobs (portfolio_id, security_id, valuation_date, status, waiting_on, attempt_count)
       SELECT 'P' || (g % 1000 / 10), 'S' || (g % 1000), date '2000-01-01' + (g / 1000),
              CASE WHEN g % 100 < 94 THEN 'COMPLETE' WHEN g % 100 = 94 THEN 'SKIPPED_NO_POSITION'
                   WHEN g % 100 = 95 THEN 'SKIPPED_SUPERSEDED' WHEN g % 100 IN (96, 97, 98) THEN 'PENDING'
                   ELSE 'FAILED' END,
              CASE WHEN g % 100 = 96 THEN 'PRICE:S' || (g % 20) WHEN g % 100 = 97 THEN 'FX:EUR/X' || (g % 20) END,
              g % 7
         FROM generate_series($1::int, $2::int - 1) g`,
      [have, size],
    );
    if (have === 0) {
      await db.query(
        `INSERT INTO position_state (portfolio_id, security_id, watermark_date, status)
         SELECT 'P' || (k / 10), 'S' || k, CASE WHEN k % 3 = 0 THEN NULL ELSE date '2025-12-31' - (k % 9) END,
                CASE WHEN k % 5 = 0 THEN 'REPROCESSING' ELSE 'CURRENT' END
           FROM generate_series(0, 999) k`,
      );
      await db.query(
        `INSERT INTO position_history (portfolio_id, security_id, position_date, quantity, cost_basis, cost_basis_local)
         SELECT 'P' || (k / 10), 'S' || k, date '2025-01-01' + (k % 200), 1, 1, 1 FROM generate_series(0, 999) k`,
      );
    }
    have = size;
    await db.query('VACUUM ANALYZE');
    const row = [size.toLocaleString('en')];
    for (const run of Object.values(measures)) {
      await run();
      const ms: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t = process.hrtime.bigint();
        await run();
        ms.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      row.push(ms.sort((a, b) => a - b)[RUNS >> 1].toFixed(2));
    }
    const exact = await stats.statusCounts(Number.MAX_SAFE_INTEGER);
    const estimated = await stats.statusCounts(0);
    const err = (estimated.counts.COMPLETE - exact.counts.COMPLETE) / exact.counts.COMPLETE;
    row.push(`${(err * 100).toFixed(2)} %`);
    lines.push(`| ${row.join(' | ')} |`);
    console.log(lines.at(-1));
  }
  await db.end();
  console.log(`\n${lines.join('\n')}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
