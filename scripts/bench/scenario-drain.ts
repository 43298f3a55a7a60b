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

/** The same book over ten days: room for the 200,000 jobs of the steady-state drain. */
const STEADY_DATASET: DatasetSpec = { ...DRAIN_DATASET, days: 10 };
/** Quick: 50,000 jobs, still some ten seconds between the window's ends on the dev machines. */
const steadyJobs = (ctx: BenchContext) => (ctx.quick ? 50_000 : 200_000);
/** The steady window: ramp-up (claims, partitions warming) before 10 % settled, the tail after 90 %. */
const STEADY_WINDOW: [number, number] = [0.1, 0.9];

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
  // One long drain, measured over its steady window too; not in the medians above (a different size).
  const steady = await drainRun(ctx, {
    name: 'drain-steady-2c',
    jobs: steadyJobs(ctx),
    calculators: 2,
    dataset: STEADY_DATASET,
    settings: ctx.settings,
    steady: STEADY_WINDOW,
  });
  const variants: DrainRun[] = [];
  if (!ctx.quick)
    for (const [name, settings] of VARIANTS)
      variants.push((await drainWithFloor(ctx, name, 2, false, { ...ctx.settings, ...settings })).run);
  const rate = (c: number) => median(runs.filter((r) => r.calculators === c).map((r) => r.jobsPerSecond));
  const p99 = (c: number) => median(runs.filter((r) => r.calculators === c).map((r) => r.latency.p99));
  const trips = (c: number) => median(runs.filter((r) => r.calculators === c).map((r) => r.roundTripsPerJob));
  const of = (c: number) => runs.filter((r) => r.calculators === c);
  const line = (c: number) =>
    `${fmt(rate(c))} jobs/s, p99 ${fmt(p99(c), 1)} s, ${fmt(trips(c), 3)} round trips/job` +
    (repeats(ctx) > 1 ? ` (median of ${repeats(ctx)})` : '');
  return {
    name: 'drain',
    title: `Drain: ${fmt(jobs)} jobs, 1 then 2 calculators`,
    summary: [
      ['drain, 1 calculator', line(1)],
      ['drain, 2 calculators', line(2)],
      ...[1, 2].map((c): [string, string] => [`drain, ${c}c: per job`, perJobLine(of(c))]),
      ['drain-steady-2c', steadyLine(steady)],
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
    data: {
      jobs,
      repeats: repeats(ctx),
      medianJobsPerSecond: { 1: rate(1), 2: rate(2) },
      runs,
      steady,
      variants,
    },
    runs,
    floors,
    markdown: [drainMarkdown([...runs, steady, ...variants]), '', steadyMarkdown(steady)].join('\n'),
  };
}

function steadyLine(run: DrainRun): string {
  const w = run.steady;
  const whole = `whole drain ${fmt(run.jobsPerSecond)} jobs/s, CPU ${fmt(run.cpuPer1000Jobs.machine ?? 0, 3)} s`;
  if (!w) return `${fmt(run.jobs)} jobs: no steady window (too short); ${whole}`;
  return (
    `${fmt(run.jobs)} jobs, ${fmt(w.from * 100)}–${fmt(w.to * 100)} % settled: ${fmt(w.jobsPerSecond)} jobs/s, ` +
    `CPU ${fmt(w.cpuPer1000Jobs.machine ?? 0, 3)} s per 1,000 jobs (machine); ${whole}`
  );
}

function steadyMarkdown(run: DrainRun): string {
  const w = run.steady;
  if (!w) return `${run.name}: the drain was too short for a steady window.`;
  return [
    `${run.name}, steady window (${fmt(w.from * 100)} % → ${fmt(w.to * 100)} % of ${fmt(run.jobs)} jobs settled, ` +
      `${fmt(w.jobs)} jobs in ${fmt(w.seconds, 1)} s): ${fmt(w.jobsPerSecond)} jobs/s (whole drain ${fmt(run.jobsPerSecond)}); CPU seconds per 1,000 jobs:`,
    '',
    mdTable(Object.keys(w.cpuPer1000Jobs), [Object.values(w.cpuPer1000Jobs).map((v) => fmt(v, 3))]),
  ].join('\n');
}

/**
 * The two headline costs of a kind of drain, medians over its runs: the machine's CPU seconds per
 * 1,000 jobs and the row versions written per job (by table in the docs and the JSON).
 */
export function perJobLine(runs: DrainRun[]): string {
  const cpu = median(runs.map((r) => r.cpuPer1000Jobs.machine ?? 0));
  const versions = median(runs.map((r) => r.rowVersions.perJob));
  const hot = median(runs.map((r) => r.rowVersions.hotShare));
  return (
    `CPU ${fmt(cpu, 3)} s per 1,000 jobs (machine), ${fmt(versions, 2)} row versions/job (HOT ${fmt(hot * 100)} %)` +
    (runs.length > 1 ? ` (medians of ${runs.length})` : '')
  );
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
    'Row versions written per job (inserts + updates, HOT share in brackets), by table, from due until no table but the leader lease was written for 11 s:',
    '',
    rowVersionsTable(runs),
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

export function rowVersionsTable(runs: DrainRun[]): string {
  const tables = [...new Set(runs.flatMap((r) => Object.keys(r.rowVersions.byTable)))];
  const cell = (perJob: number, hot: number) => `${fmt(perJob, 2)}${hot > 0 ? ` (${fmt(hot * 100)} %)` : ''}`;
  return mdTable(
    ['run', 'all tables', ...tables],
    runs.map((r) => [
      r.name,
      cell(r.rowVersions.perJob, r.rowVersions.hotShare),
      ...tables.map((t) => {
        const v = r.rowVersions.byTable[t];
        return v ? cell(v.perJob, v.hotShare) : '0';
      }),
    ]),
  );
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
