import { Client } from 'pg';
import { AdminStatementLimit, JobStatsRepository, MissingDataRepository } from '@app/persistence';
import { freshDatabase } from '../lib/infra';
import { addDays, type Book, type JobRow, seedBook, seedRange } from '../lib/seed';
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

/** The status of the last six jobs of every hundred. */
const RARE_STATUS: Record<number, NonNullable<JobRow['status']>> = {
  94: 'SKIPPED_NO_POSITION',
  95: 'SKIPPED_SUPERSEDED',
  96: 'PENDING',
  97: 'PENDING',
  98: 'PENDING',
  99: 'FAILED',
};

/**
 * Job number `g`: 1,000 keys (10 per portfolio), one job per key and day; per 100 jobs: 94 COMPLETE,
 * 2 SKIPPED_*, 2 PENDING waiting on a price or FX pair (of 40), 1 due PENDING, 1 FAILED.
 */
function job(g: number): JobRow {
  const kind = g % 100;
  const key = g % 1000;
  return {
    portfolioId: `P${Math.floor(key / 10)}`,
    securityId: `S${key}`,
    date: addDays('2000-01-01', Math.floor(g / 1000)),
    status: kind < 94 ? 'COMPLETE' : RARE_STATUS[kind],
    waitingOn: kind === 96 ? `PRICE:S${g % 20}` : kind === 97 ? `FX:EUR/X${g % 20}` : null,
    attemptCount: g % 7,
  };
}

/** The 1,000 keys' state (a third without a watermark, a fifth reprocessing) and one position each. */
function keys(): Book {
  const ks = Array.from({ length: 1000 }, (_, k) => k);
  return {
    positionStates: ks.map((k) => ({
      portfolioId: `P${Math.floor(k / 10)}`,
      securityId: `S${k}`,
      watermarkDate: k % 3 === 0 ? null : addDays('2025-12-31', -(k % 9)),
      status: k % 5 === 0 ? 'REPROCESSING' : 'CURRENT',
    })),
    positions: ks.map((k) => ({
      portfolioId: `P${Math.floor(k / 10)}`,
      securityId: `S${k}`,
      date: addDays('2025-01-01', k % 200),
      quantity: 1,
      costBasis: 1,
      costBasisLocal: 1,
    })),
  };
}

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
  await seedBook(db, { businessDates: [{ calendarCode: 'GLOBAL', date: '2025-12-31' }], ...keys() });

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
    await seedRange(db, have, size, (from, to) => ({
      jobs: Array.from({ length: to - from }, (_, i) => job(from + i)),
    }));
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
