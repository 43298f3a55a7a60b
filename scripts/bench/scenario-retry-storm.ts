import type { Client } from 'pg';
import { metricValue } from '../lib/managed-process';
import { heading, say } from '../lib/terminal';
import { addDays, daysFrom, type InstrumentRow, numbered, seedBook } from '../lib/seed';
import { type BenchContext, dbNow, fmt, freshBenchDb } from './bench-context';
import { backfilled, FIRST_CLOSE, horizon, type PositionKey, START } from './dataset';
import { type BackoffCheck, checkBackoff, installJobHistory } from './job-history';
import { publish } from './kafka-probe';
import { closes, CURRENCIES, rates } from './market-data';
import { progress, seconds } from './measures';
import { Pipeline } from './pipeline';
import { mdTable, type ScenarioResult } from './results';

const DAYS = 5;
const BACKOFF_S = 5;
const SEK_INSTRUMENTS = 20;

/**
 * USD portfolios R000001… each holding one of 20 instruments in SEK, for which there is no FX rate
 * at all: every job misses SEK→USD (and USD→SEK), nothing else. Returns the position keys.
 */
async function loadStormDataset(db: Client, portfolios: number): Promise<PositionKey[]> {
  const end = horizon({ days: DAYS });
  const sek: InstrumentRow[] = Array.from({ length: SEK_INSTRUMENTS }, (_, i) => ({
    securityId: numbered('K', i + 1, 3),
    currency: 'SEK',
    name: `Swedish equity ${i + 1}`,
    productType: 'EQUITY',
  }));
  const keys = Array.from({ length: portfolios }, (_, i) => ({
    portfolioId: numbered('R', i + 1, 6),
    securityId: numbered('K', 1 + ((i + 1) % SEK_INSTRUMENTS), 3),
  }));
  await seedBook(db, {
    businessDates: daysFrom(START, end).map((date) => ({ date })),
    portfolios: keys.map(({ portfolioId }) => ({ portfolioId, baseCurrency: 'USD' })),
    instruments: sek,
    prices: await closes(db, sek, FIRST_CLOSE, end),
    fxRates: rates(CURRENCIES, FIRST_CLOSE, end),
    positions: keys.map((k) => ({ ...k, date: START, quantity: 100, costBasis: 950, costBasisLocal: 10000 })),
    positionStates: backfilled(keys, end),
  });
  await db.query('ANALYZE');
  return keys;
}

/**
 * Scenario 4: jobs that all miss one FX rate retry on a short backoff (the storm) until the rate
 * arrives; then how long until all heal, and the proof that none was dispatched early.
 */
export async function retryStormScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const jobs = ctx.quick ? 5_000 : 10_000;
  const stormSeconds = ctx.quick ? 8 : 20;
  heading(
    `retry storm: ${fmt(jobs)} jobs missing SEK→USD, ${BACKOFF_S} s backoff, the rate arrives after ${stormSeconds} s`,
  );
  const db = await freshBenchDb(ctx);
  const pipeline = new Pipeline(ctx, 'retry-storm', {
    ...ctx.settings,
    VALUATION_RETRY_BACKOFF_SECONDS: String(BACKOFF_S),
    VALUATION_RETRY_BACKOFF_MULTIPLIER: '1',
  });
  try {
    const keys = await loadStormDataset(db, jobs / DAYS);
    await installJobHistory(db);
    await pipeline.start(2);
    await seedBook(db, {
      jobs: daysFrom(START, horizon({ days: DAYS })).flatMap((date) => keys.map((k) => ({ ...k, date }))),
    });
    const attempts = async () => {
      const { rows } = await db.query<{ n: number }>(
        `SELECT COALESCE(sum(attempt_count), 0)::int AS n FROM portfolio_valuation_jobs`,
      );
      return rows[0].n;
    };
    const started = Date.now();
    let failedAttempts = 0;
    await progress({
      label: 'storm (failing attempts)',
      total: stormSeconds,
      done: async () => {
        failedAttempts = await attempts();
        return Math.floor((Date.now() - started) / 1000);
      },
      timeoutMs: (stormSeconds + 10) * 1000,
      extra: () => `${fmt(failedAttempts)} failed attempts`,
    });

    // As upstream does: persist the rate (dated before every job), then publish fx_rate_persisted.
    await seedBook(db, { fxRates: [{ from: 'SEK', to: 'USD', date: FIRST_CLOSE, rate: '0.0950000000' }] });
    const arrivedAt = await dbNow(db);
    await publish(ctx.kafka, pipeline.topics.KAFKA_TOPIC_FX_RATE_PERSISTED, [
      {
        key: 'SEK/USD',
        value: { from_currency: 'SEK', to_currency: 'USD', rate_date: addDays(START, -5), rate: '0.095' },
      },
    ]);
    const complete = async () => {
      const { rows } = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM portfolio_valuation_jobs WHERE status = 'COMPLETE'`,
      );
      return rows[0].n;
    };
    await progress({ label: 'healed', total: jobs, done: complete, timeoutMs: 120_000 });
    const { rows } = await db.query<{ t: string }>(
      `SELECT to_char(max(updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t
         FROM portfolio_valuation_jobs`,
    );
    const healSeconds = seconds(arrivedAt, rows[0].t);
    const dispatched =
      metricValue(await pipeline.scheduler.metrics(), 'valuation_jobs_dispatched_total') ?? 0;
    await pipeline.stop();
    const check = await checkBackoff(db, BACKOFF_S, arrivedAt);
    const violations =
      check.claimedBeforeDue + check.backoffTooShort + check.wokenBeforeArrival + check.unexplainedRetries;
    say(
      `  all ${fmt(jobs)} healed ${fmt(healSeconds, 2)} s after the rate arrived; ${fmt(check.failures)} failed attempts` +
        ` before; ${fmt(check.claims)} dispatches checked (scheduler counted ${fmt(dispatched)}), ${violations} early`,
    );
    return result(jobs, stormSeconds, healSeconds, check, dispatched, violations);
  } finally {
    await pipeline.stop();
    await db.end();
  }
}

function result(
  jobs: number,
  stormSeconds: number,
  healSeconds: number,
  c: BackoffCheck,
  dispatched: number,
  violations: number,
): ScenarioResult {
  return {
    name: 'retry-storm',
    title: `Retry storm: ${fmt(jobs)} jobs missing one FX rate`,
    summary: [
      ['healed after the rate arrived', `${fmt(healSeconds, 2)} s for ${fmt(jobs)} jobs`],
      ['dispatched before their backoff', `${violations} of ${fmt(c.claims)} dispatches`],
    ],
    targets: [
      {
        target: 'no job dispatched before its backoff',
        measured: `${violations} violations in ${fmt(c.claims)} dispatches (${fmt(c.retries)} retries)`,
        met: violations === 0 && c.claims === dispatched,
      },
    ],
    data: { jobs, backoffSeconds: BACKOFF_S, stormSeconds, healSeconds, dispatchedMetric: dispatched, ...c },
    markdown: [
      `${fmt(jobs)} PENDING jobs whose instrument trades in SEK, held by USD portfolios, with no SEK rate at all; ` +
        `backoff ${BACKOFF_S} s (multiplier 1, ≤ 10 % jitter). After ${stormSeconds} s of retrying the SEK→USD rate ` +
        `is inserted and \`fx_rate_persisted\` published: **all ${fmt(jobs)} jobs were COMPLETE ${fmt(healSeconds, 2)} s later**.`,
      '',
      'The check replays every version of every job row, recorded by statement-level triggers the bench installs ' +
        'in its own database (`bench_job_history`):',
      '',
      mdTable(
        ['what', 'count'],
        [
          [
            'dispatches (claims) recorded / counted by the scheduler',
            `${fmt(c.claims)} / ${fmt(dispatched)}`,
          ],
          ['failed attempts (PENDING again, attempt + 1)', fmt(c.failures)],
          ['backoff they set, min … max (s)', `${fmt(c.minBackoff, 3)} … ${fmt(c.maxBackoff, 3)}`],
          ['retries (claims of a job that had failed)', fmt(c.retries)],
          ['… released by their backoff running out', fmt(c.afterBackoff)],
          ['… released by a wake-up or the fan-out after the arrival', fmt(c.afterWakeUp)],
          ['most dispatches of one job', fmt(c.maxDispatchesPerJob)],
          [
            'jobs COMPLETE with the new rate, then re-opened by its fan-out anyway',
            fmt(c.reopenedAfterHealing),
          ],
          ['**claimed before next_attempt_at**', fmt(c.claimedBeforeDue)],
          [`**backoff set shorter than ${BACKOFF_S} s**`, fmt(c.backoffTooShort)],
          ['**woken before the rate was persisted**', fmt(c.wokenBeforeArrival)],
          ['**retries explained by neither**', fmt(c.unexplainedRetries)],
        ],
      ),
    ].join('\n'),
  };
}
