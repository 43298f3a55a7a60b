import { addDays, seedBook } from '../lib/seed';
import { heading, say } from '../lib/terminal';
import { type BenchContext, connect, dbNow, fmt, freshBenchDb } from './bench-context';
import { jobKeys, loadDataset, START } from './dataset';
import { addEtfHolders, ETF } from './etf-holders';
import { publish } from './kafka-probe';
import { countUnsettled, type Percentiles, percentiles, progress, seconds } from './measures';
import { Pipeline } from './pipeline';
import { RealtimeStream } from './realtime-stream';
import { mdTable, type ScenarioResult } from './results';
import { DRAIN_DATASET } from './scenario-drain';

const REALTIME_PER_SECOND = 200;
const FAN_OUT_TARGET_S = 60;
const REALTIME_P99_TARGET_S = 2;
const FAN_OUT_DATE = addDays(START, 1);
const NEW_PRICE = '432.1000';

/**
 * Scenario 3: a back-dated ETF price re-opens the jobs of every holder while real-time jobs keep
 * arriving; how long until every holder is re-valued, and what it does to real-time latency.
 */
export async function fanOutScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const holders = ctx.quick ? 20_000 : 100_000;
  const baselineSeconds = ctx.quick ? 6 : 20;
  heading(
    `fan-out: a back-dated ${ETF} price for ${fmt(holders)} positions, ${REALTIME_PER_SECOND} real-time jobs/s`,
  );
  const db = await freshBenchDb(ctx);
  const streamDb = await connect(ctx.databaseUrl, 'valuation-bench-stream');
  const pipeline = new Pipeline(ctx, 'fan-out');
  try {
    await loadDataset(db, DRAIN_DATASET);
    await addEtfHolders(db, holders, DRAIN_DATASET.days, FAN_OUT_DATE);
    await pipeline.start(2);
    const stream = new RealtimeStream(streamDb, REALTIME_PER_SECOND, jobKeys(DRAIN_DATASET));
    stream.start();
    const streamStart = await dbNow(db);
    const started = Date.now();
    await progress({
      label: 'baseline (real-time only)',
      total: baselineSeconds,
      done: async () => Math.floor((Date.now() - started) / 1000),
      timeoutMs: (baselineSeconds + 10) * 1000,
      extra: () => `${fmt(stream.count)} real-time jobs`,
    });

    await seedBook(db, {
      prices: [{ securityId: ETF, date: FAN_OUT_DATE, price: NEW_PRICE, currency: 'USD' }],
    });
    const arrivedAt = await dbNow(db);
    await publish(ctx.kafka, pipeline.topics.KAFKA_TOPIC_MARKET_PRICE_PERSISTED, [
      { key: ETF, value: { security_id: ETF, price_date: FAN_OUT_DATE, price: NEW_PRICE, currency: 'USD' } },
    ]);
    const revalued = async () => {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM daily_position_snapshots
          WHERE security_id = $1 AND date = $2 AND valuation_status = 'VALUED_CURRENT' AND market_price = $3`,
        [ETF, FAN_OUT_DATE, NEW_PRICE],
      );
      return rows[0].n;
    };
    await progress({
      label: 'fan-out re-valued',
      total: holders,
      done: revalued,
      timeoutMs: 300_000,
      extra: () => `${fmt(stream.count)} real-time jobs`,
    });
    const { rows: doneRows } = await db.query<{ t: string }>(
      `SELECT to_char(max(updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t
         FROM portfolio_valuation_jobs WHERE security_id = $1 AND valuation_date = $2`,
      [ETF, FAN_OUT_DATE],
    );
    const doneAt = doneRows[0].t;
    const realtimeJobs = await stream.stop();
    await progress({
      label: 'real-time settled',
      total: 0,
      done: () => countUnsettled(db),
      finished: (n) => n === 0,
      timeoutMs: 60_000,
    });

    // Real-time jobs: the P… portfolios; latency from insertion (due at once) to settled.
    const realtime = (from: string, to: string) =>
      percentiles(
        db,
        'j.created_at',
        'j.updated_at',
        `j.portfolio_id LIKE 'P%' AND j.created_at >= $1 AND j.created_at < $2`,
        [from, to],
      );
    // The first two seconds warm the pipeline up; the baseline is what follows, up to the arrival.
    const baseline = await realtime(new Date(Date.parse(streamStart) + 2000).toISOString(), arrivedAt);
    const during = await realtime(arrivedAt, doneAt);
    const fanOutSeconds = seconds(arrivedAt, doneAt);
    await pipeline.stop();
    say(
      `  ${fmt(holders)} positions re-valued in ${fmt(fanOutSeconds, 1)} s; real-time p99 ${fmt(during.p99, 2)} s` +
        ` during it, ${fmt(baseline.p99, 2)} s without`,
    );
    return result(holders, fanOutSeconds, baseline, during, realtimeJobs);
  } finally {
    await pipeline.stop();
    await streamDb.end().catch(() => undefined);
    await db.end();
  }
}

function result(
  holders: number,
  fanOutSeconds: number,
  baseline: Percentiles,
  during: Percentiles,
  realtimeJobs: number,
): ScenarioResult {
  const row = (name: string, p: Percentiles) => [
    name,
    fmt(p.n),
    fmt(p.p50, 3),
    fmt(p.p95, 3),
    fmt(p.p99, 3),
    fmt(p.max, 3),
  ];
  return {
    name: 'fan-out',
    title: `Fan-out: a back-dated price for ${fmt(holders)} positions under a real-time stream`,
    summary: [
      [
        'fan-out re-valued',
        `${fmt(holders)} positions in ${fmt(fanOutSeconds, 1)} s (${fmt(holders / fanOutSeconds)} /s)`,
      ],
      ['real-time p99', `${fmt(during.p99, 2)} s during the fan-out, ${fmt(baseline.p99, 2)} s without`],
    ],
    targets: [
      {
        target: `fan-out of ${fmt(holders)} done in < ${FAN_OUT_TARGET_S} s`,
        measured: `${fmt(fanOutSeconds, 1)} s`,
        met: fanOutSeconds < FAN_OUT_TARGET_S,
      },
      {
        target: `real-time p99 < ${REALTIME_P99_TARGET_S} s during the fan-out`,
        measured: `${fmt(during.p99, 2)} s (without: ${fmt(baseline.p99, 2)} s)`,
        met: during.p99 < REALTIME_P99_TARGET_S,
      },
    ],
    data: { holders, realtimePerSecond: REALTIME_PER_SECOND, realtimeJobs, fanOutSeconds, baseline, during },
    markdown: [
      `${fmt(holders)} positions re-valued in **${fmt(fanOutSeconds, 1)} s** after the price was persisted ` +
        `(${fmt(holders / fanOutSeconds)} positions/s), while ${REALTIME_PER_SECOND} real-time jobs/s kept arriving ` +
        `(${fmt(realtimeJobs)} in all).`,
      '',
      'Real-time jobs, inserted → settled (seconds):',
      '',
      mdTable(
        ['window', 'jobs', 'p50', 'p95', 'p99', 'max'],
        [row('without fan-out', baseline), row('during fan-out', during)],
      ),
    ].join('\n'),
  };
}
