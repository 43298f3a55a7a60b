import type { Client } from 'pg';
import { addDays, fromNow, numbered, seedRange } from '../lib/seed';
import { heading, say } from '../lib/terminal';
import { type BenchContext, dbNow, fmt, freshBenchDb } from './bench-context';
import { insertJobs, loadDataset } from './dataset';
import { countUnsettled, progress, seconds } from './measures';
import { Pipeline } from './pipeline';
import { type CapturedQuery, schedulerStatements } from './profiling/captured-sql';
import { type ExplainedRun, explainAnalyze } from './profiling/explain';
import { mdCode, mdTable, type ScenarioResult } from './results';
import { DRAIN_DATASET } from './scenario-drain';

const REPEATS = 7;
const FLAT_RATIO = 2;

interface SizeResult {
  terminalRows: number;
  pending: number;
  /** Median execution time (ms) of each statement, from EXPLAIN ANALYZE (rolled back). */
  statementMs: Record<string, number>;
  claimBuffers: number;
  claimPlan: string;
  /** Due → every pending job settled, with the scheduler and two calculators running. */
  drainJobsPerSecond: number;
}

/**
 * Scenario 5: the claim (and the other per-cycle statements of the scheduler) with 10k, 100k and
 * 1M terminal jobs in the table, and a real drain at each size. Terminal jobs accumulate forever in
 * production, so nothing dispatch does per round may grow with them.
 */
export async function growthScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const sizes = ctx.quick ? [10_000, 100_000, 250_000] : [10_000, 100_000, 1_000_000];
  const pending = ctx.quick ? 5_000 : 10_000;
  heading(
    `growth: claim and dispatch with ${sizes.map((s) => fmt(s)).join(', ')} terminal jobs in the table`,
  );
  const db = await freshBenchDb(ctx);
  const pipeline = new Pipeline(ctx, 'growth');
  const statements = await schedulerStatements(Number(ctx.settings.VALUATION_SCHEDULER_BATCH_SIZE), 300);
  const results: SizeResult[] = [];
  try {
    await loadDataset(db, DRAIN_DATASET);
    await pipeline.start(2);
    for (const [i, size] of sizes.entries()) {
      pipeline.scheduler.pause(); // SIGSTOP: the due jobs stay due while the statements are measured
      await growTerminalJobs(db, size);
      await insertJobs(db, DRAIN_DATASET, pending, null, i * pending);
      const measured: Record<string, number> = {};
      let claim = { buffers: 0, plan: '' };
      for (const [name, q] of Object.entries(statements)) {
        const m = await explainMedian(db, q);
        measured[name] = m.ms;
        if (name === 'claim') claim = m;
      }
      const dueAt = await dbNow(db);
      pipeline.scheduler.resume();
      await progress({
        label: `${fmt(size)} terminal: drain`,
        total: pending,
        done: async () => pending - (await countUnsettled(db)),
        timeoutMs: 120_000,
      });
      const { rows } = await db.query<{ t: string }>(
        `SELECT to_char(max(updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t
           FROM portfolio_valuation_jobs WHERE portfolio_id LIKE 'P%'`,
      );
      const r: SizeResult = {
        terminalRows: size,
        pending,
        statementMs: measured,
        claimBuffers: claim.buffers,
        claimPlan: claim.plan,
        drainJobsPerSecond: pending / seconds(dueAt, rows[0].t),
      };
      results.push(r);
      say(
        `  ${fmt(size)} terminal: claim of 500 ${fmt(r.statementMs.claim, 2)} ms (${fmt(r.claimBuffers)} buffers),` +
          ` drain ${fmt(r.drainJobsPerSecond)} jobs/s`,
      );
    }
  } finally {
    pipeline.scheduler.resume();
    await pipeline.stop();
    await db.end();
  }
  return result(results);
}

/** Fills the table with COMPLETE jobs of other portfolios up to `size` terminal rows, then vacuums. */
async function growTerminalJobs(db: Client, size: number): Promise<void> {
  const { rows } = await db.query<{ n: number; g: number }>(
    `SELECT count(*)::int AS n, (SELECT count(*) FROM portfolio_valuation_jobs WHERE portfolio_id LIKE 'G%')::int AS g
       FROM portfolio_valuation_jobs WHERE status NOT IN ('PENDING', 'PROCESSING')`,
  );
  const missing = size - rows[0].n;
  const monthAgo = fromNow(-30 * 86_400);
  // 500 days per filler portfolio, so keys stay unique however many rows are added.
  await seedRange(db, rows[0].g, rows[0].g + missing, (from, to) => ({
    jobs: Array.from({ length: to - from }, (_, i) => ({
      portfolioId: numbered('G', Math.floor((from + i) / 500), 6),
      securityId: 'S0001',
      date: addDays('2020-01-01', (from + i) % 500),
      status: 'COMPLETE',
      attemptCount: 1,
      createdAt: monthAgo,
      updatedAt: monthAgo,
    })),
  }));
  // The steady state autovacuum keeps a long-lived table in: visibility map set, statistics fresh.
  await db.query('VACUUM (ANALYZE) portfolio_valuation_jobs');
}

/** EXPLAIN (ANALYZE, BUFFERS) `REPEATS` times, each in a transaction rolled back; the median run. */
async function explainMedian(db: Client, q: CapturedQuery): Promise<ExplainedRun> {
  const runs: ExplainedRun[] = [];
  for (let i = 0; i < REPEATS; i++) runs.push(await explainAnalyze(db, q));
  runs.sort((a, b) => a.ms - b.ms);
  return runs[Math.floor(runs.length / 2)];
}

function result(results: SizeResult[]): ScenarioResult {
  const first = results[0];
  const last = results[results.length - 1];
  const claimRatio = last.statementMs.claim / first.statementMs.claim;
  const names = Object.keys(first.statementMs);
  return {
    name: 'growth',
    title: 'Growth: claim and dispatch cost as terminal jobs accumulate',
    summary: [
      [
        'claim of 500',
        results.map((r) => `${fmt(r.statementMs.claim, 2)} ms @ ${fmt(r.terminalRows)}`).join(', '),
      ],
      ['drain', results.map((r) => `${fmt(r.drainJobsPerSecond)} /s @ ${fmt(r.terminalRows)}`).join(', ')],
    ],
    targets: [
      {
        target: `claim cost flat from ${fmt(first.terminalRows)} to ${fmt(last.terminalRows)} terminal rows (≤ ${FLAT_RATIO}×)`,
        measured: `${fmt(claimRatio, 2)}× (${fmt(first.statementMs.claim, 2)} → ${fmt(last.statementMs.claim, 2)} ms)`,
        met: claimRatio <= FLAT_RATIO,
      },
    ],
    data: { sizes: results.map(({ claimPlan: _plan, ...r }) => r) },
    markdown: [
      `Median execution time (ms) of ${REPEATS} \`EXPLAIN (ANALYZE, BUFFERS)\` runs of each statement, each rolled ` +
        `back, with ${fmt(first.pending)} due jobs waiting; then those jobs drained by the running pipeline ` +
        '(due → all settled). The table is vacuumed and analyzed after each growth step, as autovacuum would.',
      '',
      mdTable(
        ['terminal rows', ...names.map((n) => `${n} (ms)`), 'claim buffers', 'drain (jobs/s)'],
        results.map((r) => [
          fmt(r.terminalRows),
          ...names.map((n) => fmt(r.statementMs[n], 2)),
          fmt(r.claimBuffers),
          fmt(r.drainJobsPerSecond),
        ]),
      ),
      '',
      '`statusCounts` (exact, every status: valuation_jobs) reads every row by design; the scheduler counts so only ' +
        'while the table is under `exactJobCountMaxRows` and estimates the settled statuses above it ' +
        '(docs/benchmarks.md, "Job gauges"). Everything on the dispatch path stays flat.',
      '',
      ...results.flatMap((r) => [
        `<details><summary>Claim plan with ${fmt(r.terminalRows)} terminal rows</summary>`,
        '',
        mdCode(r.claimPlan),
        '',
        '</details>',
        '',
      ]),
    ].join('\n'),
  };
}
