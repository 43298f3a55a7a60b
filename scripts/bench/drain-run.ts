import { basename } from 'node:path';
import type { Client } from 'pg';
import { fromNow } from '../lib/seed';
import { heading, say } from '../lib/terminal';
import { type BenchContext, countQueries, dbNow, fmt, freshBenchDb, sleep } from './bench-context';
import { type DatasetSpec, insertJobs, loadDataset } from './dataset';
import { firstMessageAt } from './kafka-probe';
import {
  countUnsettled,
  type Percentiles,
  percentiles,
  progress,
  seconds,
  serverTransactions,
} from './measures';
import { Pipeline, type ProcessStats } from './pipeline';
import { ActivitySampler, type ActivitySample } from './profiling/activity-sampler';
import { cpuDelta, type CpuSample } from './profiling/cpu';
import { type ProfileSummary, summarizeProfile } from './profiling/profile-summary';
import {
  describeRowVersions,
  quietTableWrites,
  rowVersionsPerJob,
  type RowVersions,
  sampleTableWrites,
  STATS_QUIET_MS,
} from './row-versions';

/**
 * The drain's row versions are read once the tables stayed unwritten for 11 s (longer than the 10 s a
 * backend may hold its counters), the scheduler's leader lease aside: its renewals are per second,
 * not per job. The bench itself writes nothing between the two samples.
 */
const QUIET = { quietMs: STATS_QUIET_MS, maxMs: 120_000, ignore: ['valuation_scheduler_leader'] } as const;

export interface DrainOptions {
  name: string;
  jobs: number;
  calculators: number;
  dataset: DatasetSpec;
  settings: Record<string, string>;
  /** Also measure between these shares of the jobs settled (e.g. [0.1, 0.9]): ramp-up and tail left out. */
  steady?: [from: number, to: number];
  /** Runs on the drained database while the pipeline still runs (e.g. the floor, late data). */
  afterDrain?: (db: Client, pipeline: Pipeline) => Promise<void>;
}

export interface DrainRun {
  name: string;
  jobs: number;
  calculators: number;
  /** First valuation_required publish → last job settled. */
  seconds: number;
  jobsPerSecond: number;
  /** Due (all jobs become due at once) → settled, seconds. */
  latency: Percentiles;
  /** Client-side round trips per job, all processes, and split by process. */
  roundTripsPerJob: number;
  roundTripsByProcess: Record<string, number>;
  /** Server-side transactions per job (pg_stat_database), the bench's own subtracted. */
  transactionsPerJob: number;
  processes: ProcessStats[];
  /** CPU seconds per 1,000 jobs by component over the drain; `machine` is all of it, busy. */
  cpuPer1000Jobs: CpuSample;
  /**
   * Row versions (ins + upd) written per job, by table, from due until the tables went quiet (the
   * relay's and the watermark step's tails included); the bench writes nothing in that window.
   */
  rowVersions: RowVersions;
  /** With `steady`: throughput and CPU between those shares settled (null when the drain was too short). */
  steady: SteadyWindow | null;
  /** Share of the machine's two cores busy during the drain. */
  machineBusy: number;
  /** With --profile: what the database's backends were busy with during the drain. */
  dbActivity: ActivitySample[] | null;
  /** With --profile: the apps' CPU profiles over the drain, summarized. */
  profiles: ProfileSummary[] | null;
  jobStatuses: Record<string, number>;
  snapshotStatuses: Record<string, number>;
}

export interface SteadyWindow {
  /** The shares of the jobs settled at the window's ends (the marks: first poll at or past them). */
  from: number;
  to: number;
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  cpuPer1000Jobs: CpuSample;
}

/** A point of the drain: when, how many jobs settled by then, and the CPU counters then. */
interface Mark {
  at: number;
  settled: number;
  cpu: CpuSample;
}

/** CPU seconds per 1,000 jobs from a window's deltas (`machineIdle` is not a cost). */
export const per1000 = (cpu: CpuSample, jobs: number): CpuSample =>
  Object.fromEntries(
    Object.entries(cpu)
      .filter(([k]) => k !== 'machineIdle')
      .map(([k, v]) => [k, (v / jobs) * 1000]),
  );

function steadyWindow(share: [number, number], marks: Mark[]): SteadyWindow | null {
  if (marks.length < 2) return null;
  const [a, b] = marks;
  const jobs = b.settled - a.settled;
  const elapsed = (b.at - a.at) / 1000;
  return {
    from: share[0],
    to: share[1],
    jobs,
    seconds: elapsed,
    jobsPerSecond: jobs / elapsed,
    cpuPer1000Jobs: per1000(cpuDelta(a.cpu, b.cpu), jobs),
  };
}

/**
 * N jobs become due at once in front of a running pipeline; measured until every one is settled
 * (terminal, or PENDING again after an attempt when data is missing).
 */
export async function drainRun(ctx: BenchContext, o: DrainOptions): Promise<DrainRun> {
  heading(`${o.name}: ${fmt(o.jobs)} jobs, scheduler + ${o.calculators} calculator(s)`);
  const db = await freshBenchDb(ctx);
  const benchQueries = countQueries(db);
  const pipeline = new Pipeline(ctx, o.name, o.settings);
  try {
    await loadDataset(db, o.dataset);
    const xact0 = await serverTransactions(db);
    const bench0 = benchQueries();
    await pipeline.start(o.calculators);
    // Due a little after the insert commits, so every job is visible by the time it is due.
    const delay = 2 + Math.ceil(o.jobs / 50_000);
    const inserted = await insertJobs(db, o.dataset, o.jobs, fromNow(delay));
    // Autovacuum is off on the dev machines (conf.d/90-ci.conf); in production it would analyze a
    // table that just grew this much, so the bench does, before the jobs become due.
    await db.query('ANALYZE portfolio_valuation_jobs');
    const committedAt = await dbNow(db);
    const { rows } = await db.query<{ due: string }>(
      `SELECT to_char(greatest(min(next_attempt_at), $1::timestamptz) AT TIME ZONE 'UTC',
                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS due FROM portfolio_valuation_jobs`,
      [committedAt],
    );
    const dueAt = rows[0].due;
    // The measured window (CPU, round trips) starts when the jobs become due, not while waiting.
    await sleep(Math.max(0, seconds(await dbNow(db), dueAt) * 1000));
    const q0 = await pipeline.queryCounts();
    const sampler = ctx.profile ? new ActivitySampler(ctx.databaseUrl) : null;
    await sampler?.start();
    const cpu0 = await pipeline.cpu(db);
    const writes0 = await sampleTableWrites(db);
    // The steady window's ends: CPU read at the first poll at or past each share settled.
    const marks: Mark[] = [];
    await progress({
      label: 'settled',
      total: inserted,
      done: async () => {
        const settled = inserted - (await countUnsettled(db));
        if (o.steady && marks.length < 2 && settled >= o.steady[marks.length] * inserted)
          marks.push({ at: Date.now(), settled, cpu: await pipeline.cpu(db) });
        return settled;
      },
      timeoutMs: Math.max(180_000, inserted * 10),
    });
    const cpu = cpuDelta(cpu0, await pipeline.cpu(db));
    const dbActivity = (await sampler?.stop()) ?? null;
    const q1 = await pipeline.queryCounts();
    const last = await lastSettled(db);
    const first = await firstMessageAt(ctx.kafka, pipeline.valuationTopic);
    const jobStatuses = await countBy(db, 'portfolio_valuation_jobs', 'status');
    const snapshotStatuses = await countBy(db, 'daily_position_snapshots', 'valuation_status');
    const latency = await percentiles(db, `$1::timestamptz`, 'j.updated_at', 'true', [dueAt]);
    // Busy backends flush their statistics about every second (idle ones within 10 s), so this
    // server-side count may miss up to a second of the drain: a cross-check of the client-side one.
    await sleep(1500);
    const xact = (await serverTransactions(db)) - xact0 - (benchQueries() - bench0);
    const writes = await quietTableWrites(db, QUIET);
    if (!writes.quiet)
      say(`  tables still written ${QUIET.maxMs / 1000} s after the drain: row versions read then`);
    const rowVersions = rowVersionsPerJob(writes0, writes.sample, inserted);
    if (o.afterDrain) await o.afterDrain(db, pipeline);
    const processes = await pipeline.stop();
    const profiles = ctx.profile ? pipeline.profiles().map((file) => summarizeProfile(file)) : null;

    const firstDispatch = first === null ? dueAt : new Date(first).toISOString();
    const elapsed = seconds(firstDispatch, last);
    const byProcess: Record<string, number> = {};
    for (const [name, n] of Object.entries(q1)) byProcess[name] = (n - (q0[name] ?? 0)) / inserted;
    const run: DrainRun = {
      name: o.name,
      jobs: inserted,
      calculators: o.calculators,
      seconds: elapsed,
      jobsPerSecond: inserted / elapsed,
      latency,
      roundTripsPerJob: Object.values(byProcess).reduce((a, b) => a + b, 0),
      roundTripsByProcess: byProcess,
      transactionsPerJob: xact / inserted,
      processes,
      cpuPer1000Jobs: per1000(cpu, inserted),
      rowVersions,
      steady: o.steady ? steadyWindow(o.steady, marks) : null,
      machineBusy: cpu.machine / (cpu.machine + cpu.machineIdle),
      dbActivity,
      profiles,
      jobStatuses,
      snapshotStatuses,
    };
    say(
      `  ${fmt(run.jobsPerSecond)} jobs/s over ${fmt(elapsed, 1)} s · due→settled p50 ${fmt(run.latency.p50, 2)} s` +
        ` p99 ${fmt(run.latency.p99, 2)} s · ${fmt(run.roundTripsPerJob, 3)} round trips/job` +
        ` · machine ${fmt(run.machineBusy * 100)} % busy`,
    );
    say(
      `  round trips per 1,000 jobs: ${Object.entries(byProcess)
        .map(([k, v]) => `${k} ${fmt(v * 1000, 1)}`)
        .join(' · ')}`,
    );
    say(`  CPU s per 1,000 jobs: ${describeCpu(run.cpuPer1000Jobs)}`);
    say(`  row versions written: ${describeRowVersions(rowVersions)}`);
    if (run.steady)
      say(
        `  steady window (${fmt(run.steady.from * 100)}–${fmt(run.steady.to * 100)} % settled): ` +
          `${fmt(run.steady.jobsPerSecond)} jobs/s over ${fmt(run.steady.seconds, 1)} s · ` +
          `CPU s per 1,000 jobs: ${describeCpu(run.steady.cpuPer1000Jobs)}`,
      );
    for (const p of profiles ?? [])
      say(
        `    ${basename(p.file)}: ${fmt(p.busyShare * 100)} % busy; ` +
          p.byPackage
            .slice(0, 6)
            .map(([k, v]) => `${k} ${fmt(v * 100)} %`)
            .join(', '),
      );
    for (const a of dbActivity ?? [])
      say(
        `    ${fmt(a.activeBackends, 2)} backends  ${fmt(a.waiting * 100)} % waiting (${a.topWait})  ${a.statement}`,
      );
    return run;
  } finally {
    await pipeline.stop();
    await db.end();
  }
}

export const describeCpu = (cpu: CpuSample) =>
  Object.entries(cpu)
    .map(([k, v]) => `${k} ${fmt(v, 3)}`)
    .join(' · ');

/** When the last job settled: its last write (a settled job is not written again in a drain). */
async function lastSettled(db: Client): Promise<string> {
  const { rows } = await db.query<{ t: string }>(
    `SELECT to_char(max(updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t
       FROM portfolio_valuation_jobs`,
  );
  return rows[0].t;
}

export async function countBy(db: Client, table: string, column: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ k: string; n: number }>(
    `SELECT ${column} AS k, count(*)::int AS n FROM ${table} GROUP BY 1 ORDER BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.k, r.n]));
}
