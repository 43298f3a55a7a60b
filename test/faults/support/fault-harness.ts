import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Pool } from 'pg';
import { type DeadLetter, parseDeadLetter } from '@app/messaging';
import { type AppName, ManagedProcess, metricValue, REPO_ROOT } from '../../../scripts/lib/managed-process';
import { copyDatabase } from '../../../scripts/lib/infra';
import { seedDataset, type DatasetSpec, type SeededDataset } from './dataset';
import {
  collectInvariants,
  violations,
  type AppliedValuations,
  type InvariantExpectations,
  type InvariantReport,
} from './invariants';
import { FaultKafka } from './kafka-tools';
import { printFigures } from './report';

export const FAULTS_DATABASE_URL =
  process.env.FAULTS_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/valuation_faults_test';
export const FAULTS_BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
/** Migrated once by the global setup; every scenario starts from a copy of it. */
const TEMPLATE_DATABASE = `${new URL(FAULTS_DATABASE_URL).pathname.slice(1)}_template`;

/** Defaults for every process of a scenario; a scenario overrides what its fault needs. */
const PROCESS_DEFAULTS: Record<string, string> = {
  // As in production: NODE_ENV=test (which jest sets) would switch kafkajs to its test retry timings.
  NODE_ENV: 'production',
  LOG_LEVEL: 'info',
  KAFKA_TOPIC_PARTITIONS: '6',
  VALUATION_SCHEDULER_POLL_INTERVAL_MS: '250',
  VALUATION_RETRY_BACKOFF_SECONDS: '1',
  VALUATION_RETRY_BACKOFF_MAX_SECONDS: '5',
  VALUATION_CLAIM_LEASE_SECONDS: '60',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * One fault scenario: its own copy of the database, its own topics and consumer group, the built
 * apps started as separate OS processes, and the figures it prints at the end.
 */
export class FaultScenario {
  readonly run = `faults-${Date.now().toString(36)}-${randomUUID().slice(0, 4)}`;
  readonly topics = {
    valuationRequired: `${this.run}.valuation_required`,
    marketPricePersisted: `${this.run}.market_price_persisted`,
    fxRatePersisted: `${this.run}.fx_rate_persisted`,
    snapshotPersisted: `${this.run}.daily_position_snapshot_persisted`,
    dlq: `${this.run}.dlq`,
  };
  readonly group = `${this.run}.calculator`;
  readonly logDir = join(REPO_ROOT, '.run', 'faults', this.run);
  /** The suite's client, on the brokers the scenario's processes use (its env may name others). */
  readonly kafka: FaultKafka;
  readonly figures: Record<string, string | number> = {};
  readonly db: Pool;
  private readonly processes = new Map<string, ManagedProcess>();
  private readonly env: Record<string, string>;

  private constructor(
    readonly title: string,
    env: Record<string, string>,
  ) {
    this.env = {
      ...PROCESS_DEFAULTS,
      DATABASE_URL: FAULTS_DATABASE_URL,
      KAFKA_BROKERS: FAULTS_BROKERS,
      KAFKA_CONSUMER_GROUP: this.group,
      KAFKA_TOPIC_VALUATION_REQUIRED: this.topics.valuationRequired,
      KAFKA_TOPIC_MARKET_PRICE_PERSISTED: this.topics.marketPricePersisted,
      KAFKA_TOPIC_FX_RATE_PERSISTED: this.topics.fxRatePersisted,
      KAFKA_TOPIC_SNAPSHOT_PERSISTED: this.topics.snapshotPersisted,
      KAFKA_TOPIC_DLQ: this.topics.dlq,
      ...env,
    };
    this.kafka = new FaultKafka(this.env.KAFKA_BROKERS.split(','));
    // A runaway query of the harness fails naming itself, instead of the scenario running into jest's
    // timeout with no clue (the invariants' quadratic outbox probe once did, under load in CI).
    this.db = new Pool({ connectionString: FAULTS_DATABASE_URL, max: 3, statement_timeout: 60000 });
    // A PostgreSQL restart drops the pool's idle connections; the pool replaces them on the next query.
    this.db.on('error', () => undefined);
    mkdirSync(this.logDir, { recursive: true });
  }

  static async open(title: string, env: Record<string, string> = {}): Promise<FaultScenario> {
    await copyDatabase(FAULTS_DATABASE_URL, TEMPLATE_DATABASE);
    return new FaultScenario(title, env);
  }

  seed(spec: DatasetSpec): Promise<SeededDataset> {
    return seedDataset(this.db, spec);
  }

  /** Starts a built app as its own OS process and waits until it is ready. */
  async start(app: AppName, name: string, env: Record<string, string> = {}): Promise<ManagedProcess> {
    const p = new ManagedProcess(name, app, await freePort(), { ...this.env, ...env }, this.logDir);
    this.processes.set(name, p);
    p.start();
    await p.waitReady(60000);
    return p;
  }

  /** Starts `names` as calculators and waits until the group is stable with all of them assigned. */
  async startCalculators(names: string[], env: Record<string, string> = {}): Promise<ManagedProcess[]> {
    const started = await Promise.all(names.map((name) => this.start('calculator', name, env)));
    await this.waitFor(
      async () => {
        const a = await this.kafka.assignment(this.group, this.topics.valuationRequired);
        return a && names.every((n) => (a.get(n)?.length ?? 0) > 0) ? true : undefined;
      },
      40000,
      `${names.join(', ')} to share the partitions`,
    );
    return started;
  }

  /** Waits until at least `n` jobs are COMPLETE (a drain is under way); returns the counts then. */
  async waitForComplete(n: number, timeoutMs = 60000): Promise<Record<string, number>> {
    return this.waitFor(
      async () => {
        const counts = await this.jobCounts();
        return (counts.COMPLETE ?? 0) >= n ? counts : undefined;
      },
      timeoutMs,
      `${n} jobs to complete`,
    );
  }

  process(name: string): ManagedProcess {
    const p = this.processes.get(name);
    if (!p) throw new Error(`no process ${name}`);
    return p;
  }

  /** Polls `probe` until it returns a value; errors (a database restarting) count as "not yet". */
  async waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch (error) {
        last = ` (last error: ${error instanceof Error ? error.message : String(error)})`;
      }
      if (Date.now() > deadline)
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`);
      await sleep(200);
    }
  }

  async jobCounts(): Promise<Record<string, number>> {
    const { rows } = await this.db.query<{ status: string; n: number }>(
      `SELECT status, count(*)::int AS n FROM portfolio_valuation_jobs GROUP BY status`,
    );
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  async count(sql: string, params: unknown[] = []): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(sql, params);
    return Number(rows[0].n);
  }

  /**
   * Waits until the jobs reach the state the scenario expects (by default: every job settled or
   * waiting, nothing PROCESSING) and every outbox event is published; returns how long that took.
   * A recovered job is also "waiting" for a moment, so drains pass `done` (e.g. all COMPLETE).
   */
  async awaitSettled(timeoutMs: number, done?: (counts: Record<string, number>) => boolean): Promise<number> {
    const started = Date.now();
    await this.waitFor(
      async () => {
        const counts = await this.jobCounts();
        if (done && !done(counts)) return undefined;
        const open = await this.count(
          `SELECT (SELECT count(*) FROM portfolio_valuation_jobs
                    WHERE status = 'PROCESSING'
                       OR (status = 'PENDING' AND (failure_reason IS NULL OR next_attempt_at IS NULL)))
                + (SELECT count(*) FROM valuation_outbox WHERE published_at IS NULL) AS n`,
        );
        return open === 0 ? true : undefined;
      },
      timeoutMs,
      'the jobs to settle and every event to be published',
    );
    return Date.now() - started;
  }

  /**
   * Waits until `total` jobs are COMPLETE and every partition of the three input topics is committed
   * to its end (bad input included: it must have been dead-lettered, not left behind); returns the ms.
   */
  async awaitInputsConsumed(total: number, timeoutMs = 60000): Promise<number> {
    const started = Date.now();
    const inputs = [
      this.topics.valuationRequired,
      this.topics.marketPricePersisted,
      this.topics.fxRatePersisted,
    ];
    await this.awaitSettled(timeoutMs, (c) => c.COMPLETE === total);
    await this.waitFor(
      async () => ((await this.kafka.lag(this.group, inputs)).lag === 0 ? true : undefined),
      timeoutMs,
      'every partition of every input topic to be committed to its end',
    );
    return Date.now() - started;
  }

  /** Every letter of the scenario's DLQ, parsed. */
  async deadLetters(): Promise<DeadLetter[]> {
    return (await this.kafka.readTopic(this.topics.dlq)).map((m) => parseDeadLetter(m.value));
  }

  /** `valuation_jobs_processed_total{outcome}` of a running calculator. */
  async processed(p: ManagedProcess, outcome: string): Promise<number> {
    return metricValue(await p.metrics(), 'valuation_jobs_processed_total', `outcome="${outcome}"`) ?? 0;
  }

  /** Attempts that wrote a snapshot (and so one outbox event), summed over running calculators. */
  async appliedValuations(calculators: ManagedProcess[]): Promise<number> {
    let sum = 0;
    for (const p of calculators)
      for (const outcome of ['complete', 'retry_scheduled', 'failed'])
        sum += await this.processed(p, outcome);
    return sum;
  }

  /** Log lines of a process, optionally matching `pattern` and stamped within [from, to] (epoch ms). */
  logLines(p: ManagedProcess, pattern?: RegExp, from = 0, to = Number.POSITIVE_INFINITY): string[] {
    return readFileSync(p.logFile, 'utf8')
      .split('\n')
      .filter((line) => line && (!pattern || pattern.test(line)))
      .filter((line) => {
        if (from === 0 && to === Number.POSITIVE_INFINITY) return true;
        const stamp = /"timestamp":(\d+)/.exec(line);
        return stamp !== null && Number(stamp[1]) >= from && Number(stamp[1]) <= to;
      });
  }

  /** THE INVARIANT CHECK: its figures join the scenario's; returns the report and its violations. */
  async invariants(
    applied: AppliedValuations,
    expected: InvariantExpectations,
  ): Promise<{ report: InvariantReport; violations: string[] }> {
    const report = await collectInvariants(
      this.db,
      () => this.kafka.readTopic(this.topics.snapshotPersisted),
      applied,
    );
    const suppressed = expected.resends === 'reported' ? report.duplicatesOnTopic : 0;
    Object.assign(this.figures, {
      'jobs at the end': Object.entries(report.byStatus)
        .map(([status, n]) => `${status} ${n}`)
        .join(', '),
      'snapshots / outbox events / applied valuations': `${report.snapshots} / ${report.outboxEvents} / ${
        report.appliedValuations ?? '?'
      }`,
      'topic events / distinct payloads / distinct (id, status)': `${report.topicEvents} / ${report.distinctTopicEvents} / ${report.distinctIdStatus}`,
      'duplicates on topic: seen / suppressed': `${report.duplicatesOnTopic} / ${suppressed}`,
    });
    return { report, violations: violations(report, expected) };
  }

  print(): void {
    printFigures(this.title, this.figures);
  }

  /** Stops whatever still runs (a paused process is resumed first), then drops topics and group. */
  async close(): Promise<void> {
    await Promise.all(
      [...this.processes.values()].map(async (p) => {
        if (p.running) p.resume();
        await p.stop('SIGTERM', 10000).catch(() => undefined);
      }),
    );
    // FAULTS_KEEP_TOPICS=1 keeps them for a post-mortem of a failed scenario.
    if (process.env.FAULTS_KEEP_TOPICS !== '1') {
      await this.kafka.deleteGroups([this.group]);
      await this.kafka.deleteTopics(Object.values(this.topics)).catch(() => undefined);
    }
    await this.kafka.close();
    await this.db.end().catch(() => undefined);
  }
}
