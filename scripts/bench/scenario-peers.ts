import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Client } from 'pg';
import { REPO_ROOT } from '../lib/managed-process';
import { heading, say } from '../lib/terminal';
import { type BenchContext, fmt, freshBenchDb } from './bench-context';
import { jobKeys, loadDataset } from './dataset';
import { describeCpu, per1000 } from './drain-run';
import { progress } from './measures';
import { enqueue } from './peers/enqueue';
import { PEER_SETTINGS, type PeerName } from './peers/peer-worker';
import { pipelineToBestPeer } from './peers/ratio';
import { cpuDelta, type CpuSample, sampleCpu } from './profiling/cpu';
import { mdTable, type ScenarioResult } from './results';
import {
  describeRowVersions,
  quietTableWrites,
  rowVersionsPerJob,
  type RowVersions,
  STATS_QUIET_MS,
} from './row-versions';
import { DRAIN_DATASET, type DrainResult } from './scenario-drain';

const PEERS: PeerName[] = ['graphile-worker', 'pg-boss'];
/** The quick drain's size, in both modes: the peers' hand measurement drained 20,000 jobs too. */
const PEER_JOBS = 20_000;
const WORKER = join(REPO_ROOT, 'dist/scripts/bench/peers/peer-worker.js');

export interface PeerRun {
  name: PeerName;
  settings: string;
  jobs: number;
  /** First snapshot written → last, on the database's clock. */
  seconds: number;
  jobsPerSecond: number;
  /** From the first poll that saw a snapshot to the one that saw them all. */
  cpuPer1000Jobs: CpuSample;
  rowVersions: RowVersions;
}

export interface PeersResult extends ScenarioResult {
  peers: PeerRun[];
}

/** SIGTERM, then SIGKILL if the worker has not exited within 15 s. */
async function stopChild(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited.finally(() => clearTimeout(timer));
}

async function valued(db: Client): Promise<{ n: number; seconds: number }> {
  const { rows } = await db.query<{ n: number; s: number | null }>(
    `SELECT count(*)::int AS n, extract(epoch FROM max(updated_at) - min(updated_at))::float8 AS s
       FROM daily_position_snapshots`,
  );
  return { n: rows[0].n, seconds: rows[0].s ?? 0 };
}

/** One peer drains the drain's first PEER_JOBS jobs in a fresh bench database, its worker a child process. */
async function peerRun(ctx: BenchContext, peer: PeerName): Promise<PeerRun> {
  heading(`${peer}: ${fmt(PEER_JOBS)} jobs, ${PEER_SETTINGS[peer]}`);
  const db = await freshBenchDb(ctx);
  let child: ChildProcess | null = null;
  const running = { stop: () => stopChild(child) };
  ctx.running.add(running);
  try {
    await loadDataset(db, DRAIN_DATASET);
    const jobs = jobKeys(DRAIN_DATASET).slice(0, PEER_JOBS);
    await enqueue(peer, ctx.databaseUrl, jobs);
    await db.query('ANALYZE'); // as the drain does for its jobs: autovacuum is off on the dev machines
    // The enqueuing connections publish their counters as they close: wait for that, then start.
    const writes0 = (await quietTableWrites(db, { quietMs: 2000, maxMs: 30_000, ignore: [] })).sample;
    const worker = spawn(process.execPath, [WORKER, peer, ctx.databaseUrl], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child = worker;
    const cpuNow = () => sampleCpu(db, { [peer]: worker.pid }, null);
    const marks: { settled: number; cpu: CpuSample }[] = [];
    await progress({
      label: 'valued',
      total: jobs.length,
      done: async () => {
        if (worker.exitCode !== null) throw new Error(`${peer} worker exited (${worker.exitCode})`);
        const { n } = await valued(db);
        if (marks.length === 0 && n > 0) marks.push({ settled: n, cpu: await cpuNow() });
        if (marks.length === 1 && n >= jobs.length) marks.push({ settled: n, cpu: await cpuNow() });
        return n;
      },
      timeoutMs: 600_000,
      intervalMs: 250,
    });
    const [a, b] = marks;
    const cpuPer1000Jobs = per1000(cpuDelta(a.cpu, b.cpu), Math.max(1, b.settled - a.settled));
    const { seconds } = await valued(db);
    const writes = await quietTableWrites(db, { quietMs: STATS_QUIET_MS, maxMs: 120_000, ignore: [] });
    const run: PeerRun = {
      name: peer,
      settings: PEER_SETTINGS[peer],
      jobs: jobs.length,
      seconds,
      jobsPerSecond: jobs.length / seconds,
      cpuPer1000Jobs,
      rowVersions: rowVersionsPerJob(writes0, writes.sample, jobs.length),
    };
    say(`  ${fmt(run.jobsPerSecond)} jobs/s over ${fmt(seconds, 1)} s`);
    say(`  CPU s per 1,000 jobs: ${describeCpu(cpuPer1000Jobs)}`);
    say(`  row versions written: ${describeRowVersions(run.rowVersions)}`);
    return run;
  } finally {
    await stopChild(child);
    ctx.running.delete(running);
    await db.end();
  }
}

/**
 * The peer scenario: graphile-worker and pg-boss drain the same jobs as the pipeline's drain with a
 * one-query valuation task; the ratio needs the drain scenario's two-calculator median of this run.
 */
export async function peersScenario(ctx: BenchContext, drain: DrainResult | undefined): Promise<PeersResult> {
  const peers: PeerRun[] = [];
  for (const peer of PEERS) peers.push(await peerRun(ctx, peer));
  const pipeline = drain ? (drain.data.medianJobsPerSecond as Record<number, number>)[2] : undefined;
  const ratio = pipelineToBestPeer(pipeline, peers);
  const line = (p: PeerRun) =>
    `${fmt(p.jobsPerSecond)} jobs/s, CPU ${fmt(p.cpuPer1000Jobs.machine ?? 0, 3)} s per 1,000 jobs (machine), ` +
    `${fmt(p.rowVersions.perJob, 2)} row versions/job`;
  return {
    name: 'peers',
    title: `Peers: ${fmt(PEER_JOBS)} jobs drained by graphile-worker and pg-boss`,
    summary: [...peers.map((p): [string, string] => [p.name, line(p)]), ['pipeline ÷ best peer', ratio]],
    targets: [],
    data: { jobs: PEER_JOBS, peers, pipelineJobsPerSecond: pipeline ?? null, ratio },
    peers,
    markdown: [
      mdTable(
        ['peer', 'settings', 'jobs/s', 'seconds', 'CPU s per 1,000 jobs (machine)', 'row versions/job'],
        peers.map((p) => [
          p.name,
          p.settings,
          fmt(p.jobsPerSecond),
          fmt(p.seconds, 1),
          fmt(p.cpuPer1000Jobs.machine ?? 0, 3),
          describeRowVersions(p.rowVersions),
        ]),
      ),
      '',
      `Pipeline ÷ best peer: ${ratio}.`,
    ].join('\n'),
  };
}
