import type { Producer } from 'kafkajs';
import { buildFxRatePersisted, buildMarketPricePersisted } from '@app/messaging';
import { JOB_STATUSES, type JobStatus } from '@app/valuation';
import type { Client } from 'pg';
import { ManagedProcess, metricValue } from '../lib/managed-process';
import { seedBook } from '../lib/seed';
import { bar, dim, green, heading, liveLine, say, table, yellow } from '../lib/terminal';
import {
  asPriceRows,
  BACKDATED_ETF_DATE,
  backdatedEtfPrice,
  ETF,
  expectedJobs,
  HORIZON,
  LATE_PRICE_SECURITY,
  lateFxRows,
  latePriceRows,
} from './demo-dataset';

type Counts = Record<JobStatus, number> & { total: number; fresh: number };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The demo's narrative, phase by phase, reading the same tables and endpoints an operator would. */
export class DemoStory {
  constructor(
    private readonly db: Client,
    private readonly producer: Producer,
    private readonly env: Record<string, string>,
    private readonly scheduler: ManagedProcess,
    private readonly policy: 'retrying' | 'legacy',
    private readonly operatorToken: string,
  ) {}

  async tell(): Promise<void> {
    heading(
      'Backfill and valuation: the scheduler creates a job per position and day, calculators value them',
    );
    await this.until(async (c) => c.total >= expectedJobs() && c.PROCESSING === 0 && c.fresh === 0, 60000);
    await this.showWaiting();

    heading(
      `Waiting a few backoffs: the jobs retry on their own (${this.env.VALUATION_RETRY_BACKOFF_SECONDS} s base backoff)`,
    );
    if (this.policy === 'retrying') {
      // Until the scheduler's alert gauge counts jobs past the (lowered) threshold.
      await this.until(
        async () => ((await this.gauge('valuation_jobs_over_attempt_threshold')) ?? 0) > 0,
        90000,
      );
      await this.showWaiting();
      await this.showGauges('Alert gauges while data is missing (threshold lowered to 2 for the demo)');
    } else {
      say(
        yellow(
          '  legacy policy: the jobs are already COMPLETE with FAILED snapshots; no backoff retries them (only',
        ),
      );
      say(yellow('  a newer price or rate fans out to them), and the alert gauges see nothing wrong:'));
      await this.showGauges('Alert gauges');
    }

    heading('The late FX rates arrive (USD/CHF and EUR/CHF), published as fx_rate_persisted');
    const fx = lateFxRows();
    await this.healTimed(async () => {
      await seedBook(this.db, { fxRates: fx });
      await this.producer.send({
        topic: this.env.KAFKA_TOPIC_FX_RATE_PERSISTED,
        messages: fx.map((r) =>
          buildFxRatePersisted({ from_currency: r.from, to_currency: r.to, rate_date: r.date, rate: r.rate }),
        ),
      });
    }, `security_id = 'NESN'`);

    heading(`The late ${LATE_PRICE_SECURITY} prices arrive, published as market_price_persisted`);
    const prices = latePriceRows();
    await this.healTimed(() => this.publishPrices(prices), `security_id = '${LATE_PRICE_SECURITY}'`);
    await this.showAttempts(`security_id = '${LATE_PRICE_SECURITY}'`);

    heading(`A back-dated ${ETF} price for ${BACKDATED_ETF_DATE} fans out to every position holding the ETF`);
    await this.backdatedEtf();

    await this.revalue();

    await this.finalTable();
    await this.showGauges('Alert gauges at the end');
  }

  /** The operators' API with this run's token, as an operator's script would call it. */
  private async api<T>(path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.scheduler.url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${this.operatorToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  /** GET /jobs/:id of the job with the most attempts among `affected`: why it waited, and who tried. */
  private async showAttempts(affected: string): Promise<void> {
    const { rows } = await this.db.query<{ id: string }>(
      `SELECT id::text FROM portfolio_valuation_jobs WHERE ${affected} ORDER BY attempt_count DESC, id LIMIT 1`,
    );
    if (rows.length === 0) return;
    const { body: job } = await this.api<{
      portfolio_id: string;
      valuation_date: string;
      status: string;
      attempts: {
        attempt: number;
        claimed_at: string;
        finished_at: string | null;
        outcome: string | null;
        reason: string | null;
        worker: string | null;
      }[];
    }>(`/jobs/${rows[0].id}`);
    say(
      `  GET /jobs/${rows[0].id}: ${job.portfolio_id} on ${job.valuation_date}, ${job.status}, its attempts:`,
    );
    const time = (t: string | null) => (t ? t.slice(11, 23) : '-');
    say(
      table(
        ['attempt', 'claimed', 'finished', 'outcome', 'worker', 'reason'],
        job.attempts.map((a) => [
          a.attempt,
          time(a.claimed_at),
          time(a.finished_at),
          a.outcome ?? '-',
          a.worker ?? '-',
          (a.reason ?? '').slice(0, 60),
        ]),
      ),
    );
  }

  /** POST /revaluations for one portfolio's last week, followed with GET /revaluations/:id. */
  private async revalue(): Promise<void> {
    const to = HORIZON;
    const from = new Date(Date.parse(`${HORIZON}T00:00:00Z`) - 6 * 86_400_000).toISOString().slice(0, 10);
    heading(`An operator re-values US-GROWTH from ${from} to ${to} after a corrected trade feed`);
    const request = { portfolio_id: 'US-GROWTH', from, to, reason: 'demo: corrected trade feed' };
    const started = Date.now();
    const { status, body } = await this.api<{ id: string; status: string }>('/revaluations', request);
    say(`  POST /revaluations ${JSON.stringify(request)} → ${status} ${JSON.stringify(body)}`);
    type Progress = { status: string; jobs_reopened: number; jobs_settled: number; requested_by: string };
    let progress: Progress | undefined;
    const deadline = Date.now() + 60000;
    for (;;) {
      progress = (await this.api<Progress>(`/revaluations/${body.id}`)).body;
      liveLine(
        `  GET /revaluations/${body.id}: ${progress.status}, ${progress.jobs_reopened} re-opened, ${progress.jobs_settled} settled`,
      );
      if (progress.status === 'DONE' && progress.jobs_settled >= progress.jobs_reopened) break;
      if (Date.now() > deadline)
        throw new Error('the revaluation did not finish in time; see the logs in .run/');
      await sleep(250);
    }
    say();
    say(
      green(
        `  ${progress.jobs_reopened} jobs re-valued in ${Date.now() - started} ms, requested by ${progress.requested_by} (audited in operator_audit)`,
      ),
    );
  }

  /** As an upstream price service does: persist the prices, then publish market_price_persisted. */
  private async publishPrices(prices: ReturnType<typeof latePriceRows>): Promise<void> {
    await seedBook(this.db, { prices: asPriceRows(prices) });
    await this.producer.send({
      topic: this.env.KAFKA_TOPIC_MARKET_PRICE_PERSISTED,
      messages: prices.map((p) =>
        buildMarketPricePersisted({
          security_id: p.security,
          price_date: p.date,
          price: p.price,
          currency: p.currency,
        }),
      ),
    });
  }

  private async counts(): Promise<Counts> {
    const { rows } = await this.db.query<{ status: string; n: number; fresh: number }>(
      `SELECT status, count(*)::int AS n, count(*) FILTER (WHERE attempt_count = 0)::int AS fresh
         FROM portfolio_valuation_jobs GROUP BY status`,
    );
    const n = (status: string) => rows.find((r) => r.status === status)?.n ?? 0;
    return {
      ...(Object.fromEntries(JOB_STATUSES.map((s) => [s, n(s)])) as Record<JobStatus, number>),
      total: rows.reduce((sum, r) => sum + r.n, 0),
      fresh: rows.find((r) => r.status === 'PENDING')?.fresh ?? 0,
    };
  }

  /** Shows the live progress line until `done` holds (checked on fresh counts). */
  private async until(done: (c: Counts) => Promise<boolean>, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const c = await this.counts();
      const finished = c.COMPLETE + c.FAILED + c.SKIPPED_NO_POSITION + c.SKIPPED_SUPERSEDED;
      liveLine(
        `  ${bar(finished, c.total)} ${c.total} jobs · ${green(`COMPLETE ${c.COMPLETE}`)} · PENDING ${c.PENDING}` +
          ` (${yellow(`${c.PENDING - c.fresh} waiting on data`)}) · PROCESSING ${c.PROCESSING} · FAILED ${c.FAILED}`,
      );
      if (await done(c)) break;
      if (Date.now() > deadline)
        throw new Error('the pipeline did not get there in time; see the logs in .run/');
      await sleep(250);
    }
    say();
  }

  private async gauge(name: string): Promise<number | null> {
    return metricValue(await this.scheduler.metrics(), name);
  }

  /** What PENDING jobs wait for, from GET /missing-data (most jobs first). */
  private async showWaiting(): Promise<void> {
    type Missing = {
      kind: 'price' | 'fx';
      security_id?: string;
      from_currency?: string;
      to_currency?: string;
      from: string;
      to: string;
      jobs: number;
      max_attempts: number;
      waiting_since: string;
    };
    const { body: missing } = await this.api<Missing[]>('/missing-data');
    if (missing.length === 0) {
      say(dim('  GET /missing-data: no job is waiting on data'));
      return;
    }
    say('  GET /missing-data: what the PENDING jobs wait for');
    say(
      table(
        ['kind', 'missing', 'dates', 'jobs', 'attempts (max)', 'waiting since'],
        missing.map((m) => [
          m.kind,
          m.kind === 'price' ? (m.security_id ?? '-') : `${m.from_currency}/${m.to_currency}`,
          `${m.from.slice(5)}..${m.to.slice(5)}`,
          m.jobs,
          m.max_attempts,
          m.waiting_since.slice(11, 19),
        ]),
      ),
    );
  }

  /** Publishes late data and measures how long until the affected jobs are COMPLETE again. */
  private async healTimed(publish: () => Promise<void>, affected: string): Promise<void> {
    const before = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM portfolio_valuation_jobs WHERE ${affected} AND status <> 'COMPLETE'`,
    );
    const { rows: failedSnaps } = await this.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM daily_position_snapshots WHERE ${affected} AND valuation_status = 'FAILED'`,
    );
    const started = Date.now();
    await publish();
    await this.until(async () => {
      const { rows } = await this.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM daily_position_snapshots WHERE ${affected} AND valuation_status = 'FAILED'`,
      );
      return rows[0].n === 0;
    }, 60000);
    say(
      green(
        `  ${failedSnaps[0].n} FAILED snapshots (${before.rows[0].n} jobs not COMPLETE) healed in ${Date.now() - started} ms`,
      ),
    );
  }

  private async backdatedEtf(): Promise<void> {
    const p = backdatedEtfPrice();
    const snapshot = () =>
      this.db.query<{
        portfolio_id: string;
        date: string;
        valuation_status: string;
        market_price: string;
        market_value: string;
      }>(
        `SELECT portfolio_id, to_char(date, 'YYYY-MM-DD') AS date, valuation_status, market_price::numeric(20,4)::text AS market_price,
                market_value::numeric(20,2)::text AS market_value
           FROM daily_position_snapshots WHERE security_id = $1 AND date BETWEEN $2::date AND $2::date + 3 AND portfolio_id = 'US-GROWTH'
          ORDER BY date`,
        [ETF, p.date],
      );
    const before = (await snapshot()).rows;
    const started = Date.now();
    await this.publishPrices([p]);
    await this.until(async () => {
      const { rows } = await snapshot();
      return rows.some((r) => r.date === p.date && r.valuation_status === 'VALUED_CURRENT');
    }, 60000);
    await this.until(async (c) => c.PENDING === 0 && c.PROCESSING === 0, 30000);
    const after = (await snapshot()).rows;
    say(green(`  re-valued in ${Date.now() - started} ms; US-GROWTH's ${ETF} snapshots around ${p.date}:`));
    say(
      table(
        ['date', 'before', 'price', 'market value', 'after', 'price', 'market value'],
        after.map((a, i) => [
          a.date,
          before[i]?.valuation_status ?? '-',
          before[i]?.market_price ?? '-',
          before[i]?.market_value ?? '-',
          a.valuation_status,
          a.market_price,
          a.market_value,
        ]),
      ),
    );
    say(
      dim(
        `  (the weekend after ${p.date} took the corrected price too: the fan-out window runs to the day before the next price)`,
      ),
    );
  }

  private async finalTable(): Promise<void> {
    heading(`Portfolio market values at the horizon ${HORIZON}, in base currency`);
    const { rows } = await this.db.query<Record<string, string | null>>(
      `SELECT p.portfolio_id, p.base_currency, count(s.*)::text AS positions,
              sum(s.market_value)::numeric(20,2)::text AS market_value,
              sum(s.cost_basis)::numeric(20,2)::text AS cost,
              sum(s.unrealized_gain_loss)::numeric(20,2)::text AS unrealized,
              string_agg(DISTINCT s.valuation_status, ', ') AS statuses
         FROM portfolios p LEFT JOIN daily_position_snapshots s ON s.portfolio_id = p.portfolio_id AND s.date = $1
        GROUP BY p.portfolio_id, p.base_currency ORDER BY p.portfolio_id`,
      [HORIZON],
    );
    say(
      table(
        ['portfolio', 'ccy', 'positions', 'market value', 'cost', 'unrealized', 'snapshot status'],
        rows.map((r) => [
          r.portfolio_id ?? '-',
          r.base_currency ?? '-',
          r.positions ?? '0',
          r.market_value ?? '-',
          r.cost ?? '-',
          r.unrealized ?? '-',
          r.statuses ?? '-',
        ]),
      ),
    );
    const c = await this.counts();
    say(
      `  jobs: ${JOB_STATUSES.filter((s) => c[s])
        .map((s) => `${s} ${c[s]}`)
        .join(' · ')}`,
    );
  }

  private async showGauges(title: string): Promise<void> {
    const text = await this.scheduler.metrics();
    say(`  ${title}:`);
    const rows: [string, number | null][] = [
      ['valuation_jobs{status="PENDING"}', metricValue(text, 'valuation_jobs', 'status="PENDING"')],
      ['valuation_job_attempts_max', metricValue(text, 'valuation_job_attempts_max')],
      ['valuation_jobs_over_attempt_threshold', metricValue(text, 'valuation_jobs_over_attempt_threshold')],
      [
        'valuation_jobs_waiting_on_data{kind="price"}',
        metricValue(text, 'valuation_jobs_waiting_on_data', 'kind="price"'),
      ],
      [
        'valuation_jobs_waiting_on_data{kind="fx"}',
        metricValue(text, 'valuation_jobs_waiting_on_data', 'kind="fx"'),
      ],
      ['valuation_position_watermark_lag_days', metricValue(text, 'valuation_position_watermark_lag_days')],
      ['valuation_revaluations_running', metricValue(text, 'valuation_revaluations_running')],
      ['valuation_job_oldest_due_seconds', metricValue(text, 'valuation_job_oldest_due_seconds')],
      ['valuation_jobs_dispatched_total', metricValue(text, 'valuation_jobs_dispatched_total')],
      ['valuation_scheduler_leader', metricValue(text, 'valuation_scheduler_leader')],
    ];
    say(
      table(
        ['metric', 'value'],
        rows.map(([name, v]) => [name, v === null ? '-' : String(v)]),
      ),
    );
  }
}
