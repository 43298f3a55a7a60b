import type { BenchContext } from './bench-context';
import { fmt } from './bench-context';
import type { DatasetSpec } from './dataset';
import { drainRun, type DrainRun } from './drain-run';
import { type FloorMeasurement, measureFloor } from './floor';
import { mdTable, type ScenarioResult } from './results';
import type { BenchSettings } from './settings';

/** 2,000 portfolios × 10 positions × 5 days = the 100,000 jobs of the full run. */
export const DRAIN_DATASET: DatasetSpec = {
  portfolios: 2000,
  positionsPerPortfolio: 10,
  securities: 300,
  days: 5,
};
export const DRAIN_TARGET_JOBS_PER_S = 5000;

/** A two-calculator drain and the SQL floor measured on its database right after it drained. */
export interface FloorPair {
  run: DrainRun;
  floor: FloorMeasurement;
}

/** Scenario 1: a backlog of N jobs drained by the scheduler and one, then two, calculators. */
export interface DrainResult extends ScenarioResult {
  runs: DrainRun[];
  floors: FloorPair[];
}

export const drainJobs = (ctx: BenchContext) => (ctx.quick ? 20_000 : 100_000);
/** Runs of each kind; the reported figure is the median (runs alternate 1c, 2c, so noise hits both). */
const repeats = (ctx: BenchContext) => (ctx.quick ? 1 : 3);

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Drains with `calculators` calculators; with `floor`, measures the SQL floor on the same rows. */
export async function drainWithFloor(
  ctx: BenchContext,
  name: string,
  calculators: number,
  floor: boolean,
  settings: BenchSettings = ctx.settings,
): Promise<{ run: DrainRun; floor: FloorMeasurement | null }> {
  let measured: FloorMeasurement | null = null;
  const run = await drainRun(ctx, {
    name,
    jobs: drainJobs(ctx),
    calculators,
    dataset: DRAIN_DATASET,
    settings,
    afterDrain: floor
      ? async (db) => {
          measured = await measureFloor(db);
        }
      : undefined,
  });
  return { run, floor: measured };
}

/**
 * The full run adds two variants of the two-calculator drain, to show what the settings do: the
 * contract's defaults (2 s poll interval), and claim batches of 1,000 instead of 500.
 */
const VARIANTS: [name: string, settings: Record<string, string>][] = [
  ['drain-2c-defaults', { VALUATION_SCHEDULER_POLL_INTERVAL_MS: '2000' }],
  ['drain-2c-batch-1000', { VALUATION_SCHEDULER_BATCH_SIZE: '1000' }],
];

export async function drainScenario(ctx: BenchContext): Promise<DrainResult> {
  const jobs = drainJobs(ctx);
  const runs: DrainRun[] = [];
  const floors: FloorPair[] = [];
  for (let i = 1; i <= repeats(ctx); i++) {
    const suffix = repeats(ctx) > 1 ? `-r${i}` : '';
    runs.push((await drainWithFloor(ctx, `drain-1c${suffix}`, 1, false)).run);
    const two = await drainWithFloor(ctx, `drain-2c${suffix}`, 2, true);
    runs.push(two.run);
    if (two.floor) floors.push({ run: two.run, floor: two.floor });
  }
  const variants: DrainRun[] = [];
  if (!ctx.quick)
    for (const [name, settings] of VARIANTS)
      variants.push((await drainWithFloor(ctx, name, 2, false, { ...ctx.settings, ...settings })).run);
  const rate = (c: number) => median(runs.filter((r) => r.calculators === c).map((r) => r.jobsPerSecond));
  const p99 = (c: number) => median(runs.filter((r) => r.calculators === c).map((r) => r.latency.p99));
  const trips = (c: number) => median(runs.filter((r) => r.calculators === c).map((r) => r.roundTripsPerJob));
  const line = (c: number) =>
    `${fmt(rate(c))} jobs/s, p99 ${fmt(p99(c), 1)} s, ${fmt(trips(c), 3)} round trips/job` +
    (repeats(ctx) > 1 ? ` (median of ${repeats(ctx)})` : '');
  return {
    name: 'drain',
    title: `Drain: ${fmt(jobs)} jobs, 1 then 2 calculators`,
    summary: [
      ['drain, 1 calculator', line(1)],
      ['drain, 2 calculators', line(2)],
      ...variants.map((v): [string, string] => [
        v.name,
        `${fmt(v.jobsPerSecond)} jobs/s, p99 ${fmt(v.latency.p99, 1)} s`,
      ]),
    ],
    targets: [
      {
        target: `drain ≥ ${fmt(DRAIN_TARGET_JOBS_PER_S)} jobs/s with two calculators`,
        measured: `${fmt(rate(2))} jobs/s (1 calculator: ${fmt(rate(1))})`,
        met: rate(2) >= DRAIN_TARGET_JOBS_PER_S,
      },
    ],
    data: { jobs, repeats: repeats(ctx), medianJobsPerSecond: { 1: rate(1), 2: rate(2) }, runs, variants },
    runs,
    floors,
    markdown: drainMarkdown([...runs, ...variants]),
  };
}

export function drainMarkdown(runs: DrainRun[]): string {
  return [
    mdTable(
      [
        'run',
        'jobs',
        'jobs/s',
        'seconds',
        'due→settled p50 / p95 / p99 (s)',
        'round trips/job',
        'transactions/job',
      ],
      runs.map((r) => [
        r.name,
        fmt(r.jobs),
        fmt(r.jobsPerSecond),
        fmt(r.seconds, 1),
        `${fmt(r.latency.p50, 2)} / ${fmt(r.latency.p95, 2)} / ${fmt(r.latency.p99, 2)}`,
        fmt(r.roundTripsPerJob, 3),
        fmt(r.transactionsPerJob, 3),
      ]),
    ),
    '',
    'CPU seconds per 1,000 jobs, by component (`machine`: all busy time of the two cores; share busy in brackets):',
    '',
    cpuTable(runs),
    '',
    mdTable(
      ['run', 'process', 'round trips/job', 'peak RSS (MiB)'],
      runs.flatMap((r) =>
        r.processes.map((p) => [
          r.name,
          p.name,
          fmt(r.roundTripsByProcess[p.name] ?? 0, 4),
          fmt(p.peakRssMiB),
        ]),
      ),
    ),
  ].join('\n');
}

export function cpuTable(runs: DrainRun[]): string {
  const components = [...new Set(runs.flatMap((r) => Object.keys(r.cpuPer1000Jobs)))];
  return mdTable(
    ['run', ...components],
    runs.map((r) => [
      r.name,
      ...components.map((c) => {
        const v = fmt(r.cpuPer1000Jobs[c] ?? 0, 3);
        return c === 'machine' ? `${v} (${fmt(r.machineBusy * 100)} %)` : v;
      }),
    ]),
  );
}
