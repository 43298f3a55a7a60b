import type { Client } from 'pg';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ManagedProcess, REPO_ROOT } from '../lib/managed-process';
import { dim, say } from '../lib/terminal';
import { type BenchContext, sleep } from './bench-context';
import { type CpuSample, sampleCpu } from './profiling/cpu';
import type { BenchSettings } from './settings';

const SCHEDULER_PORT = 28087;
const FIRST_CALCULATOR_PORT = 28084;
const PROBE = join(REPO_ROOT, 'dist/scripts/bench/profiling/probe.js');
export const PROFILE_DIR = join(REPO_ROOT, '.run/prof');

export interface ProcessStats {
  name: string;
  /** Peak resident set (VmHWM), MiB. */
  peakRssMiB: number;
}

/**
 * One scheduler and N calculators of the BUILT apps as separate OS processes, on topics and a
 * consumer group of their own. Each process counts its database round trips (profiling/probe.ts).
 * Registered in the run's `ctx.running` until stopped, so a failing or interrupted run still stops it.
 */
export class Pipeline {
  readonly topics: Record<string, string>;
  readonly env: Record<string, string>;
  readonly scheduler: ManagedProcess;
  readonly calculators: ManagedProcess[] = [];
  private stopping: Promise<ProcessStats[]> | null = null;

  constructor(
    private readonly ctx: BenchContext,
    readonly name: string,
    settings: BenchSettings = ctx.settings,
  ) {
    const prefix = `${ctx.runId}-${name}`;
    this.topics = {
      KAFKA_TOPIC_VALUATION_REQUIRED: `${prefix}.valuation_required`,
      KAFKA_TOPIC_MARKET_PRICE_PERSISTED: `${prefix}.market_price_persisted`,
      KAFKA_TOPIC_FX_RATE_PERSISTED: `${prefix}.fx_rate_persisted`,
      KAFKA_TOPIC_SNAPSHOT_PERSISTED: `${prefix}.snapshot_persisted`,
      KAFKA_TOPIC_DLQ: `${prefix}.dlq`,
    };
    this.env = {
      DATABASE_URL: ctx.databaseUrl,
      KAFKA_BROKERS: ctx.brokers,
      KAFKA_CONSUMER_GROUP: `${prefix}.calculator`,
      ...this.topics,
      ...settings,
      NODE_OPTIONS: `--require ${PROBE}`,
    };
    if (ctx.profile) mkdirSync(PROFILE_DIR, { recursive: true });
    ctx.running.add(this);
    this.scheduler = this.process(`${prefix}-scheduler`, 'scheduler', SCHEDULER_PORT);
  }

  get valuationTopic(): string {
    return this.topics.KAFKA_TOPIC_VALUATION_REQUIRED;
  }

  get processes(): ManagedProcess[] {
    return [this.scheduler, ...this.calculators];
  }

  private process(name: string, app: 'scheduler' | 'calculator', port: number): ManagedProcess {
    const countFile = join(REPO_ROOT, '.run', `${name}.queries.json`);
    rmSync(countFile, { force: true });
    const env: Record<string, string> = { ...this.env, BENCH_QUERY_COUNT_FILE: countFile };
    if (this.ctx.profile) env.BENCH_CPU_PROFILE = join(PROFILE_DIR, name);
    return new ManagedProcess(name, app, port, env);
  }

  /** Starts `n` more calculators and waits until they are ready and the group is stable with all of them. */
  async addCalculators(n: number): Promise<void> {
    const added: ManagedProcess[] = [];
    for (let i = 0; i < n; i++) {
      const index = this.calculators.length + 1;
      const p = this.process(
        `${this.ctx.runId}-${this.name}-calculator-${index}`,
        'calculator',
        FIRST_CALCULATOR_PORT + index - 1,
      );
      this.calculators.push(p);
      added.push(p.start());
    }
    await Promise.all(added.map((p) => p.waitReady()));
    await this.waitGroupStable(this.calculators.length);
  }

  /** Starts the scheduler and `calculators` calculators. */
  async start(calculators: number): Promise<this> {
    const began = Date.now();
    this.scheduler.start();
    await this.addCalculators(calculators);
    await this.scheduler.waitReady();
    say(
      dim(
        `  scheduler + ${calculators} calculator(s) ready in ${((Date.now() - began) / 1000).toFixed(1)} s`,
      ),
    );
    return this;
  }

  /** A rebalance pauses consumption: measurements start only once every calculator owns partitions. */
  private async waitGroupStable(members: number, timeoutMs = 60000): Promise<void> {
    const admin = this.ctx.kafka.admin();
    await admin.connect();
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { groups } = await admin.describeGroups([this.env.KAFKA_CONSUMER_GROUP]);
        if (groups[0]?.state === 'Stable' && groups[0].members.length === members) return;
        if (Date.now() > deadline) throw new Error(`consumer group not stable with ${members} members`);
        await sleep(200);
      }
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Round trips each process made so far (it writes the count on SIGUSR2). With --profile, calls
   * alternately start and end each process's CPU profile, so one profile covers one measured window.
   */
  async queryCounts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const p of this.processes) {
      const file = join(REPO_ROOT, '.run', `${p.name}.queries.json`);
      const before = readCount(file)?.seq ?? 0;
      process.kill(p.pid!, 'SIGUSR2');
      const deadline = Date.now() + 5000;
      let count = readCount(file);
      while ((count === null || count.seq === before) && Date.now() < deadline) {
        await sleep(20);
        count = readCount(file);
      }
      if (count === null || count.seq === before) throw new Error(`${p.name} did not report its query count`);
      counts[this.role(p)] = count.queries;
    }
    return counts;
  }

  role(p: ManagedProcess): string {
    return p.name.replace(`${this.ctx.runId}-${this.name}-`, '');
  }

  /** The CPU profiles (--profile) this pipeline's processes wrote so far. */
  profiles(): string[] {
    if (!existsSync(PROFILE_DIR)) return [];
    const names = this.processes.map((p) => `${p.name}-`);
    return readdirSync(PROFILE_DIR)
      .filter((f) => f.endsWith('.cpuprofile') && names.some((n) => f.startsWith(n)))
      .map((f) => join(PROFILE_DIR, f));
  }

  /** CPU seconds so far of every process of the pipeline, PostgreSQL, the broker and the machine. */
  cpu(db: Client): Promise<CpuSample> {
    return sampleCpu(
      db,
      Object.fromEntries(this.processes.map((p) => [this.role(p), p.pid])),
      this.ctx.brokerPid,
    );
  }

  /** Peak RSS of every process, read from /proc before it exits. */
  peakRss(): ProcessStats[] {
    return this.processes.map((p) => ({ name: this.role(p), peakRssMiB: vmHwmMiB(p.pid) }));
  }

  /** Stops calculators first (they drain their chunk in flight), then the scheduler; deletes the topics. */
  stop(): Promise<ProcessStats[]> {
    return (this.stopping ??= this.stopProcesses());
  }

  private async stopProcesses(): Promise<ProcessStats[]> {
    const stats = this.peakRss();
    for (const p of this.processes) p.resume(); // a paused process handles SIGTERM only once resumed
    await Promise.all(this.calculators.map((p) => p.stop()));
    await this.scheduler.stop();
    const admin = this.ctx.kafka.admin();
    await admin
      .connect()
      .then(() => admin.deleteTopics({ topics: Object.values(this.topics) }))
      .catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    this.ctx.running.delete(this);
    return stats;
  }
}

function readCount(file: string): { queries: number; seq: number } | null {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { queries: number; seq: number };
  } catch {
    return null; // caught mid-write
  }
}

function vmHwmMiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}
