import type { Client } from 'pg';
import type { Producer } from 'kafkajs';
import { loadConfig } from '@app/config';
import { RetentionRepository } from '@app/persistence';
import { cycleLimitsFor } from '../../apps/scheduler/src/cycle/cycle-limits';
import { metricValue } from '../lib/managed-process';
import { heading, say } from '../lib/terminal';
import { type BenchContext, connect, fmt, freshBenchDb, runningOn } from './bench-context';
import { addDays } from '../lib/seed';
import { jobKeys, loadDataset, START } from './dataset';
import { progress } from './measures';
import { Pipeline } from './pipeline';
import { capture } from './profiling/captured-sql';
import { explainAnalyze } from './profiling/explain';
import { RealtimeStream } from './realtime-stream';
import { mdCode, mdTable, type ScenarioResult } from './results';
import { DRAIN_DATASET } from './scenario-drain';

const REALTIME_PER_SECOND = 200;
const PRICES_PER_SECOND = 10;
/** The contract's default poll interval: one purge per scheduler cycle. */
const PURGE_EVERY_MS = 2000;
const FLAT_RATIO = 1.25;
/** The default of VALUATION_RETENTION_HOURS: the plans are taken at the size it keeps the tables at. */
const DEFAULT_RETENTION_HOURS = loadConfig('scheduler', {}).scheduler.retentionHours;

interface TableSample {
  /** Rows ever inserted (the identity sequence). */
  written: number;
  /** Rows in the table. */
  held: number;
  /** Unpublished events / open triggers among them. */
  pending: number;
  /** pg_total_relation_size: heap, indexes, free-space and visibility maps. */
  bytes: number;
  heapBytes: number;
}

interface Sample {
  /** Seconds since the stream started. */
  t: number;
  outbox: TableSample;
  triggers: TableSample;
  purgedOutbox: number;
  purgedTriggers: number;
}

/**
 * Scenario 7: tables that only grew before the retention step. A steady stream of real-time jobs
 * (each valued job writes one outbox event) and of price arrivals (each one a fan-out trigger) runs
 * for several retention periods while published events and finished triggers are purged every cycle;
 * the two tables' rows and sizes are sampled all along and must stay flat.
 *
 * The scheduler's setting is in hours, so the bench drives the scheduler's own purge (the repository
 * the step calls, with the step's per-cycle limit) with a retention of seconds, once per default poll
 * interval, on a connection of its own. The running scheduler keeps its own step at 24 h (purging
 * nothing here); its counter shows that the step runs.
 */
export async function retentionScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const runSeconds = ctx.quick ? 50 : 150;
  const retentionSeconds = ctx.quick ? 10 : 30;
  const limit = cycleLimitsFor(loadConfig('scheduler', { ...ctx.settings }).scheduler).purgeRows;
  heading(
    `retention: ${REALTIME_PER_SECOND} jobs/s and ${PRICES_PER_SECOND} price arrivals/s for ${runSeconds} s, ` +
      `purged after ${retentionSeconds} s`,
  );
  const db = await freshBenchDb(ctx);
  const streamDb = await connect(ctx.databaseUrl, 'valuation-bench-stream');
  const purgeDb = await connect(ctx.databaseUrl, 'valuation-bench-purge');
  const retention = new RetentionRepository(runningOn(purgeDb));
  const pipeline = new Pipeline(ctx, 'retention');
  const producer = ctx.kafka.producer({ allowAutoTopicCreation: false });
  const samples: Sample[] = [];
  const purgeMs: number[] = [];
  try {
    await loadDataset(db, DRAIN_DATASET);
    await pipeline.start(2);
    await producer.connect();
    const jobs = new RealtimeStream(streamDb, REALTIME_PER_SECOND, jobKeys(DRAIN_DATASET));
    const prices = new PriceStream(
      streamDb,
      producer,
      pipeline.topics.KAFKA_TOPIC_MARKET_PRICE_PERSISTED,
      // Closes of the days after the last valued one: triggers whose fan-out finds nothing to re-open.
      addDays(START, DRAIN_DATASET.days),
      DRAIN_DATASET.securities,
    );
    jobs.start();
    prices.start();
    const started = Date.now();
    let purged = { outbox: 0, triggers: 0 };
    await progress({
      label: 'steady stream',
      total: runSeconds,
      intervalMs: PURGE_EVERY_MS,
      timeoutMs: (runSeconds + 60) * 1000,
      done: async () => {
        const began = Date.now();
        purged = {
          outbox: purged.outbox + (await retention.purgePublishedEvents(retentionSeconds, limit)),
          triggers: purged.triggers + (await retention.purgeCompletedTriggers(retentionSeconds, limit)),
        };
        purgeMs.push(Date.now() - began);
        // Standing in for autovacuum, which is off on these machines. In production it visits a table
        // about once a minute, a sliver of a 24 h retention; with a retention of seconds the bench
        // vacuums after every purge to keep that proportion (dead rows a fraction of the live ones).
        await db.query('VACUUM valuation_outbox, valuation_triggers');
        const t = (Date.now() - started) / 1000;
        samples.push({
          t,
          ...(await sampleTables(db)),
          purgedOutbox: purged.outbox,
          purgedTriggers: purged.triggers,
        });
        return Math.floor(t);
      },
      extra: () => {
        const s = samples[samples.length - 1];
        return s
          ? `outbox ${fmt(s.outbox.held)} of ${fmt(s.outbox.written)}, triggers ${fmt(s.triggers.held)}`
          : '';
      },
    });
    await jobs.stop();
    await prices.stop();
    const schedulerPurged = metricValue(
      await pipeline.scheduler.metrics(),
      'valuation_rows_purged_total',
      'table="valuation_outbox"',
    );
    await pipeline.stop();
    // The tables are small here, and the planner rightly reads a few pages rather than an index. With
    // the default retention they hold a day of events: the plans at that size are the ones that matter.
    const steadyPlans = {
      outbox: await explain(db, (r) => r.purgePublishedEvents(retentionSeconds, limit)),
      triggers: await explain(db, (r) => r.purgeCompletedTriggers(retentionSeconds, limit)),
    };
    const dayOf = ctx.quick
      ? { outbox: 200_000, triggers: 20_000 }
      : { outbox: 1_000_000, triggers: 100_000 };
    await fillADay(db, dayOf.outbox, dayOf.triggers);
    const dayRetention = DEFAULT_RETENTION_HOURS * 3600;
    const plans = {
      outbox: await explain(db, (r) => r.purgePublishedEvents(dayRetention, limit)),
      triggers: await explain(db, (r) => r.purgeCompletedTriggers(dayRetention, limit)),
    };
    const last = samples[samples.length - 1];
    say(
      `  outbox: ${fmt(last.outbox.written)} events written, ${fmt(last.outbox.held)} held at the end; ` +
        `triggers: ${fmt(last.triggers.written)} written, ${fmt(last.triggers.held)} held`,
    );
    return result({
      runSeconds,
      retentionSeconds,
      limit,
      batchSize: ctx.settings.VALUATION_SCHEDULER_BATCH_SIZE,
      samples,
      purgeMs,
      plans,
      steadyPlans,
      dayOf,
      schedulerPurged,
    });
  } finally {
    await producer.disconnect().catch(() => undefined);
    await pipeline.stop();
    await purgeDb.end().catch(() => undefined);
    await streamDb.end().catch(() => undefined);
    await db.end();
  }
}

/** The purge statement a repository call sends, run under EXPLAIN (ANALYZE, BUFFERS) and rolled back. */
async function explain(db: Client, call: (r: RetentionRepository) => Promise<number>): Promise<string> {
  const statement = await capture((ds) => call(new RetentionRepository(ds)));
  return (await explainAnalyze(db, statement)).plan;
}

/**
 * What the tables hold at the default retention: `outbox` published events and `triggers` completed
 * triggers, done evenly over the last 25 hours (so one in 25 is past 24 h), vacuumed and analyzed.
 */
async function fillADay(db: Client, outbox: number, triggers: number): Promise<void> {
  await db.query(
    `INSERT INTO valuation_outbox (topic, message_key, payload, created_at, published_at)
     SELECT 'daily_position_snapshot_persisted', 'P' || lpad((g % 2000)::text, 6, '0'),
            jsonb_build_object('id', g, 'portfolio_id', 'P' || lpad((g % 2000)::text, 6, '0'),
                               'security_id', 'S0001', 'date', '2025-01-06', 'epoch', 0,
                               'valuation_status', 'VALUED_CURRENT'),
            now() - (g::float8 / $1) * interval '25 hours', now() - (g::float8 / $1) * interval '25 hours'
       FROM generate_series(1, $1::int) g`,
    [outbox],
  );
  await db.query(
    `INSERT INTO valuation_triggers (kind, security_id, effective_date, created_at, completed_at)
     SELECT 'PRICE', 'S' || lpad((1 + g % 300)::text, 4, '0'), DATE '2025-01-06',
            now() - (g::float8 / $1) * interval '25 hours', now() - (g::float8 / $1) * interval '25 hours'
       FROM generate_series(1, $1::int) g`,
    [triggers],
  );
  await db.query('VACUUM (ANALYZE) valuation_outbox, valuation_triggers');
}

async function sampleTables(db: Client): Promise<Pick<Sample, 'outbox' | 'triggers'>> {
  const table = async (name: string, pendingWhere: string): Promise<TableSample> => {
    const { rows } = await db.query<{
      written: string | null;
      held: number;
      pending: number;
      bytes: string;
      heap: string;
    }>(
      `SELECT pg_sequence_last_value(pg_get_serial_sequence($1, 'id'))::text AS written,
              (SELECT count(*) FROM ${name})::int AS held,
              (SELECT count(*) FROM ${name} WHERE ${pendingWhere})::int AS pending,
              pg_total_relation_size($1)::text AS bytes, pg_relation_size($1)::text AS heap`,
      [name],
    );
    const r = rows[0];
    return {
      written: Number(r.written ?? 0),
      held: r.held,
      pending: r.pending,
      bytes: Number(r.bytes),
      heapBytes: Number(r.heap),
    };
  };
  return {
    outbox: await table('valuation_outbox', 'published_at IS NULL'),
    triggers: await table('valuation_triggers', 'completed_at IS NULL'),
  };
}

/**
 * Upstream persisting closes and publishing `market_price_persisted`, `perSecond` on average: each
 * arrival is one fan-out trigger. Securities in turn, one date after another from `firstDate`.
 */
class PriceStream {
  private timer: NodeJS.Timeout | null = null;
  private sent = 0;
  private started = 0;
  private pending: Promise<void> = Promise.resolve();
  private failure: unknown = null;

  constructor(
    private readonly db: Client,
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly firstDate: string,
    private readonly securities: number,
  ) {}

  start(): void {
    this.started = Date.now();
    this.timer = setInterval(() => {
      this.pending = this.pending.then(() => this.tick());
    }, 200);
  }

  private async tick(): Promise<void> {
    const due = Math.floor(((Date.now() - this.started) / 1000) * PRICES_PER_SECOND);
    if (due <= this.sent || this.failure) return;
    try {
      const { rows } = await this.db.query<{
        security_id: string;
        price_date: string;
        price: string;
        currency: string;
      }>(
        `INSERT INTO market_prices (security_id, price_date, price, currency)
         SELECT 'S' || lpad((1 + seq % $3::int)::text, 4, '0'), $4::date + (seq / $3::int)::int,
                10 + seq % 90, i.currency
           FROM generate_series($1::int, $2::int - 1) seq
           JOIN instruments i ON i.security_id = 'S' || lpad((1 + seq % $3::int)::text, 4, '0')
         RETURNING security_id, to_char(price_date, 'YYYY-MM-DD') AS price_date, price::text AS price, currency`,
        [this.sent, due, this.securities, this.firstDate],
      );
      await this.producer.send({
        topic: this.topic,
        acks: -1,
        messages: rows.map((r) => ({ key: r.security_id, value: JSON.stringify(r) })),
      });
      this.sent = due;
    } catch (error) {
      this.failure = error;
    }
  }

  async stop(): Promise<number> {
    if (this.timer) clearInterval(this.timer);
    await this.pending;
    if (this.failure instanceof Error) throw this.failure;
    if (this.failure) throw new Error('the price stream failed');
    return this.sent;
  }
}

interface Measured {
  runSeconds: number;
  retentionSeconds: number;
  limit: number;
  /** VALUATION_SCHEDULER_BATCH_SIZE of the run, which the purge limit follows. */
  batchSize: string;
  samples: Sample[];
  purgeMs: number[];
  plans: { outbox: string; triggers: string };
  steadyPlans: { outbox: string; triggers: string };
  dayOf: { outbox: number; triggers: number };
  schedulerPurged: number | null;
}

/**
 * Flat: once a retention (plus a purge interval and a little slack) has passed, the steady window's
 * last third never goes higher than FLAT_RATIO × its first third.
 */
function flatness(steady: Sample[], value: (s: Sample) => number): number {
  const third = Math.max(1, Math.floor(steady.length / 3));
  const max = (xs: Sample[]) => Math.max(...xs.map(value));
  return max(steady.slice(-third)) / Math.max(1, max(steady.slice(0, third)));
}

function result(m: Measured): ScenarioResult {
  const warmup = m.retentionSeconds + (2 * PURGE_EVERY_MS) / 1000 + 4;
  const steady = m.samples.filter((s) => s.t >= warmup);
  const last = m.samples[m.samples.length - 1];
  const ratios = {
    outboxRows: flatness(steady, (s) => s.outbox.held),
    outboxBytes: flatness(steady, (s) => s.outbox.bytes),
    triggerRows: flatness(steady, (s) => s.triggers.held),
    triggerBytes: flatness(steady, (s) => s.triggers.bytes),
  };
  const range = (value: (s: Sample) => number, unit = (n: number) => fmt(n)) =>
    `${unit(Math.min(...steady.map(value)))}–${unit(Math.max(...steady.map(value)))}`;
  const kB = (n: number) => `${fmt(n / 1024)} kB`;
  const sortedMs = [...m.purgeMs].sort((a, b) => a - b);
  const medianMs = sortedMs[Math.floor(sortedMs.length / 2)] ?? 0;
  // About one sample in the table every 5 s (quick) or 10 s (full), and the last one.
  const every = Math.max(1, Math.round((m.runSeconds > 60 ? 10_000 : 5000) / PURGE_EVERY_MS));
  const shown = m.samples.filter((_, i) => i % every === 0 || i === m.samples.length - 1);
  return {
    name: 'retention',
    title: `Retention: outbox and trigger tables under a steady stream for ${m.runSeconds} s`,
    summary: [
      [
        'outbox held (steady)',
        `${range((s) => s.outbox.held)} rows, ${range((s) => s.outbox.bytes, kB)} ` +
          `(${fmt(last.outbox.written)} written)`,
      ],
      [
        'triggers held (steady)',
        `${range((s) => s.triggers.held)} rows, ${range((s) => s.triggers.bytes, kB)} ` +
          `(${fmt(last.triggers.written)} written)`,
      ],
    ],
    targets: [
      {
        target: `valuation_outbox rows and size flat under a steady stream (last third ≤ ${FLAT_RATIO}× first third)`,
        measured: `rows ${fmt(ratios.outboxRows, 2)}×, size ${fmt(ratios.outboxBytes, 2)}×`,
        met: ratios.outboxRows <= FLAT_RATIO && ratios.outboxBytes <= FLAT_RATIO,
      },
      {
        target: `valuation_triggers rows and size flat under a steady stream (last third ≤ ${FLAT_RATIO}× first third)`,
        measured: `rows ${fmt(ratios.triggerRows, 2)}×, size ${fmt(ratios.triggerBytes, 2)}×`,
        met: ratios.triggerRows <= FLAT_RATIO && ratios.triggerBytes <= FLAT_RATIO,
      },
    ],
    data: {
      realtimePerSecond: REALTIME_PER_SECOND,
      pricesPerSecond: PRICES_PER_SECOND,
      retentionSeconds: m.retentionSeconds,
      purgeEveryMs: PURGE_EVERY_MS,
      purgeLimit: m.limit,
      warmupSeconds: warmup,
      ratios,
      purgeMs: { median: medianMs, max: sortedMs[sortedMs.length - 1] ?? 0 },
      schedulerPurgedOutbox: m.schedulerPurged,
      plans: { atADay: m.dayOf, ...m.plans },
      steadyPlans: m.steadyPlans,
      samples: m.samples,
    },
    markdown: [
      `${REALTIME_PER_SECOND} real-time jobs/s (each valued job writes one outbox event) and ${PRICES_PER_SECOND} ` +
        `price arrivals/s (each one a fan-out trigger) for ${m.runSeconds} s. Every ${PURGE_EVERY_MS / 1000} s ` +
        `the bench runs the scheduler's purge (\`RetentionRepository\`, at most ${fmt(m.limit)} rows per table, ` +
        `the step's limit at batch size ${m.batchSize}) with a retention of ` +
        `${m.retentionSeconds} s instead of hours, and vacuums both tables after each purge, ` +
        `standing in for autovacuum (off here), which in production visits a table about once a minute, a ` +
        `sliver of a 24 h retention. "held" is the rows in the table, "pending" the unpublished events / ` +
        'open triggers among them, size is `pg_total_relation_size` (heap, indexes, free-space and visibility maps).',
      '',
      mdTable(
        [
          't (s)',
          'events written',
          'outbox held',
          'unpublished',
          'outbox size',
          'triggers written',
          'triggers held',
          'open',
          'triggers size',
        ],
        shown.map((s) => [
          fmt(s.t),
          fmt(s.outbox.written),
          fmt(s.outbox.held),
          fmt(s.outbox.pending),
          kB(s.outbox.bytes),
          fmt(s.triggers.written),
          fmt(s.triggers.held),
          fmt(s.triggers.pending),
          kB(s.triggers.bytes),
        ]),
      ),
      '',
      `After the first ${fmt(warmup)} s (a retention, two purges and some slack) the outbox holds ` +
        `${range((s) => s.outbox.held)} rows in ${range((s) => s.outbox.bytes, kB)} while the events written ` +
        `grow to ${fmt(last.outbox.written)}; the triggers ${range((s) => s.triggers.held)} rows in ` +
        `${range((s) => s.triggers.bytes, kB)}. Each purge (both tables) took ${fmt(medianMs)} ms median, ` +
        `${fmt(sortedMs[sortedMs.length - 1] ?? 0)} ms at most. The running scheduler's own step, at its 24 h ` +
        `retention, reported \`valuation_rows_purged_total{table="valuation_outbox"}\` ` +
        `${m.schedulerPurged === null ? 'absent' : fmt(m.schedulerPurged)}.`,
      '',
      `The purge plans (EXPLAIN ANALYZE, rolled back) with the tables as the default ${DEFAULT_RETENTION_HOURS} h ` +
        `retention keeps them: ${fmt(m.dayOf.outbox)} events and ${fmt(m.dayOf.triggers)} triggers done over ` +
        `the last 25 hours (the purge takes the oldest ${fmt(m.limit)} past 24 h, through the partial indexes). ` +
        'In the run itself the tables are a few hundred pages and the planner reads them whole instead, as it should.',
      '',
      '<details><summary>Purge plans with a day of rows</summary>',
      '',
      mdCode(m.plans.outbox),
      '',
      mdCode(m.plans.triggers),
      '',
      '</details>',
    ].join('\n'),
  };
}
