import type { Client } from 'pg';
import { say } from '../lib/terminal';
import { seedBook } from '../lib/seed';
import { dbNow, fmt, type BenchContext } from './bench-context';
import { type DatasetSpec, FIRST_CLOSE, horizon, instruments } from './dataset';
import { drainRun, type DrainRun } from './drain-run';
import { publish } from './kafka-probe';
import { closes } from './market-data';
import { progress, seconds } from './measures';
import type { Pipeline } from './pipeline';
import { mdTable, type ScenarioResult } from './results';
import { DRAIN_DATASET } from './scenario-drain';

/** The drain's book, with 10 of the 300 securities never priced: about 3 % of the jobs miss a price. */
const DATASET: DatasetSpec = { ...DRAIN_DATASET, unpricedSecurities: 10 };
const POLICIES = ['retrying', 'legacy'] as const;

interface PolicyRun {
  policy: (typeof POLICIES)[number];
  drain: DrainRun;
  /** Jobs that met the missing data: PENDING waiting (retrying) or COMPLETE with a FAILED snapshot (legacy). */
  missingData: number;
  /** The late prices arrive: seconds until no snapshot is FAILED any more. */
  healSeconds: number;
}

/**
 * Scenario 6: the same drain under both failure policies, with prices missing for some securities;
 * then the prices arrive, and each policy heals its own way (retrying: wake-ups of the waiting jobs;
 * legacy: only the fan-out re-opens the COMPLETE jobs with FAILED snapshots).
 */
export async function policiesScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const jobs = ctx.quick ? 5_000 : 50_000;
  const runs: PolicyRun[] = [];
  for (const policy of POLICIES) {
    let healSeconds = 0;
    let missingData = 0;
    const drain = await drainRun(ctx, {
      name: `policy-${policy}`,
      jobs,
      calculators: 2,
      dataset: DATASET,
      settings: { ...ctx.settings, VALUATION_JOB_POLICY: policy },
      afterDrain: async (db, pipeline) => {
        missingData = await failedSnapshots(db);
        healSeconds = await deliverLatePrices(db, pipeline, ctx);
      },
    });
    runs.push({ policy, drain, missingData, healSeconds });
  }
  const [retrying, legacy] = runs;
  return {
    name: 'policies',
    title: `Policies: retrying vs legacy on a ${fmt(jobs)}-job drain with missing prices`,
    summary: runs.map((r) => [
      r.policy,
      `${fmt(r.drain.jobsPerSecond)} jobs/s; ${fmt(r.missingData)} jobs without data; healed ${fmt(r.healSeconds, 1)} s after the prices arrived`,
    ]),
    targets: [],
    data: { jobs, runs },
    markdown: [
      `${fmt(jobs)} jobs, two calculators, ${DATASET.unpricedSecurities} of ${DATASET.securities} securities without ` +
        'any price. After the drain the missing prices are inserted (every day) and published as ' +
        '`market_price_persisted`; "healed" is until no snapshot is FAILED any more.',
      '',
      mdTable(
        [
          'policy',
          'jobs/s',
          'due→settled p99 (s)',
          'round trips/job',
          'jobs',
          'snapshots',
          'healed after (s)',
        ],
        runs.map((r) => [
          r.policy,
          fmt(r.drain.jobsPerSecond),
          fmt(r.drain.latency.p99, 2),
          fmt(r.drain.roundTripsPerJob, 3),
          Object.entries(r.drain.jobStatuses)
            .map(([k, v]) => `${k} ${fmt(v)}`)
            .join(', '),
          Object.entries(r.drain.snapshotStatuses)
            .map(([k, v]) => `${k} ${fmt(v)}`)
            .join(', '),
          fmt(r.healSeconds, 1),
        ]),
      ),
      '',
      `Under \`retrying\` the ${fmt(retrying.missingData)} jobs without a price stay PENDING (attempt 1, waiting on ` +
        `\`PRICE:<security>\`) and the arrival wakes them at once; under \`legacy\` the ${fmt(legacy.missingData)} ` +
        'are COMPLETE with a FAILED snapshot, and only the fan-out of each price re-opens them.',
    ].join('\n'),
  };
}

async function failedSnapshots(db: Client): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM daily_position_snapshots WHERE valuation_status = 'FAILED'`,
  );
  return rows[0].n;
}

/** As the price service would: persist the missing prices, publish one event per price. */
async function deliverLatePrices(db: Client, pipeline: Pipeline, ctx: BenchContext): Promise<number> {
  const unpriced = instruments(DATASET).slice(0, DATASET.unpricedSecurities);
  await seedBook(db, { prices: await closes(db, unpriced, FIRST_CLOSE, horizon(DATASET)) });
  const arrivedAt = await dbNow(db);
  const { rows } = await db.query<{
    security_id: string;
    price_date: string;
    price: string;
    currency: string;
  }>(
    `SELECT m.security_id, to_char(m.price_date, 'YYYY-MM-DD') AS price_date, m.price::text, m.currency
       FROM market_prices m WHERE m.security_id = ANY ($1::text[])`,
    [unpriced.map((i) => i.securityId)],
  );
  await publish(
    ctx.kafka,
    pipeline.topics.KAFKA_TOPIC_MARKET_PRICE_PERSISTED,
    rows.map((r) => ({ key: r.security_id, value: r })),
  );
  const before = await failedSnapshots(db);
  await progress({
    label: 'healed',
    total: before,
    done: async () => before - (await failedSnapshots(db)),
    timeoutMs: 180_000,
  });
  const { rows: last } = await db.query<{ t: string }>(
    `SELECT to_char(max(updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t
       FROM daily_position_snapshots`,
  );
  const healed = seconds(arrivedAt, last[0].t);
  say(`  ${fmt(before)} FAILED snapshots healed ${fmt(healed, 2)} s after the prices arrived`);
  return healed;
}
