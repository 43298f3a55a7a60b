import { metricValue, type ManagedProcess } from '../../scripts/lib/managed-process';
import { FaultScenario } from './support/fault-harness';
import { dispatchedMessage, type TopicMessage } from './support/kafka-tools';

const LEASE_SECONDS = 15;

interface Dispatch {
  jobId: string;
  token: string;
  at: number;
}

/** Per job, the distinct claims it was dispatched under, and whether two came within one lease. */
function dispatchesByJob(messages: TopicMessage[]): {
  jobs: number;
  twiceWithinLease: string[];
  redispatched: number;
} {
  const byJob = new Map<string, Dispatch[]>();
  for (const m of messages) {
    const v = dispatchedMessage(m.value);
    const list = byJob.get(v.job_id) ?? [];
    if (!list.some((d) => d.token === v.claim_token))
      list.push({ jobId: v.job_id, token: v.claim_token, at: Number(m.timestamp) });
    byJob.set(v.job_id, list);
  }
  const twiceWithinLease: string[] = [];
  let redispatched = 0;
  for (const [jobId, list] of byJob) {
    if (list.length > 1) redispatched += 1;
    list.sort((a, b) => a.at - b.at);
    for (let i = 1; i < list.length; i++)
      if (list[i].at - list[i - 1].at < LEASE_SECONDS * 1000) twiceWithinLease.push(jobId);
  }
  return { jobs: byJob.size, twiceWithinLease, redispatched };
}

const leader = async (p: ManagedProcess) => metricValue(await p.metrics(), 'valuation_scheduler_leader');

/**
 * Scenario 7: two schedulers (active and standby). A corrected price arrives for a security held by
 * thousands of positions, and the active scheduler is killed with SIGKILL while it is fanning it out.
 * The standby takes the leader lease within one lease, finishes the fan-out, and no job is dispatched
 * twice within a lease. Every re-opened job is valued again with the corrected price.
 */
describe('fault 7: scheduler failover during a fan-out', () => {
  let s: FaultScenario;

  beforeAll(async () => {
    s = await FaultScenario.open('fault 7: scheduler failover during a fan-out', {
      VALUATION_CLAIM_LEASE_SECONDS: String(LEASE_SECONDS),
      // Small batches: the fan-out (800 jobs a cycle) takes several cycles, so the kill lands inside it.
      VALUATION_SCHEDULER_BATCH_SIZE: '200',
      VALUATION_SCHEDULER_POLL_INTERVAL_MS: '500',
    });
  });
  afterAll(() => s.close());

  it('hands the fan-out to the standby within one lease, dispatching no job twice within it', async () => {
    const active = await s.start('scheduler', 'scheduler-1');
    const standby = await s.start('scheduler', 'scheduler-2');
    const calculators = await s.startCalculators(['calculator-1', 'calculator-2']);
    expect([await leader(active), await leader(standby)]).toEqual([1, 0]);

    // One ETF held by 2,500 portfolios, priced on the first of two days only: the second day is valued
    // with that price (VALUED_STALE), so a correction of it re-opens every job.
    const seeded = await s.seed({ portfolios: 2500, holdings: 1, securities: 1, days: 2 });
    const total = seeded.jobs;
    await s.db.query(`DELETE FROM market_prices WHERE price_date > $1`, [seeded.start]);
    await s.awaitSettled(90000, (c) => c.COMPLETE === total);
    const fanOutStart = await s.kafka.endOffsets(s.topics.valuationRequired);

    const { rows } = await s.db.query<{ security_id: string; price: string; currency: string }>(
      `UPDATE market_prices SET price = price + 7.25 WHERE price_date = $1 RETURNING security_id, price::text, currency`,
      [seeded.start],
    );
    await s.kafka.send(
      s.topics.marketPricePersisted,
      rows.map((r) => ({
        key: r.security_id,
        value: JSON.stringify({
          security_id: r.security_id,
          price_date: seeded.start,
          price: r.price,
          currency: r.currency,
        }),
      })),
    );
    const midway = await s.waitFor(
      async () => {
        const { rows: t } = await s.db.query<{ cursor: string }>(
          `SELECT cursor_job_id::text AS cursor FROM valuation_triggers WHERE completed_at IS NULL AND cursor_job_id > 0`,
        );
        return t[0]?.cursor;
      },
      30000,
      'the fan-out to be under way',
    );
    const reopenedAtKill = await s.count(
      `SELECT count(*) AS n FROM portfolio_valuation_jobs j JOIN valuation_triggers t ON j.updated_at >= t.created_at`,
    );
    await active.stop('SIGKILL');
    const killedAt = Date.now();
    const takeover = await s.waitFor(
      async () => ((await leader(standby)) === 1 ? Date.now() - killedAt : undefined),
      LEASE_SECONDS * 2000,
      'the standby to become the active scheduler',
    );

    await s.waitFor(
      async () =>
        (await s.count(`SELECT count(*) AS n FROM valuation_triggers WHERE completed_at IS NULL`)) === 0 ||
        undefined,
      60000,
      'the fan-out to finish',
    );
    const fanOutDone = Date.now() - killedAt;
    const settledIn = await s.awaitSettled(90000, (c) => c.COMPLETE === total);
    const drained = Date.now() - killedAt;
    const dispatches = dispatchesByJob(
      (await s.kafka.readTopic(s.topics.valuationRequired)).filter(
        (m) => BigInt(m.offset) >= (fanOutStart.get(m.partition) ?? 0n),
      ),
    );
    const recovered = await s.count(
      `SELECT count(*) AS n FROM portfolio_valuation_jobs WHERE attempt_count > 0`,
    );
    const applied = await s.appliedValuations(calculators);
    const { report, violations } = await s.invariants({ kind: 'counted', count: applied }, { jobs: total });

    Object.assign(s.figures, {
      'jobs (one ETF, 2,500 positions, 2 days)': total,
      'fan-out cursor at the kill (job id)': midway,
      'jobs re-opened or re-valued since the price arrived, at the kill': reopenedAtKill,
      'standby became active after the kill': `${(takeover / 1000).toFixed(2)} s (lease ${LEASE_SECONDS} s)`,
      'fan-out finished / drained after the kill': `${(fanOutDone / 1000).toFixed(1)} s / ${(drained / 1000).toFixed(1)} s (settled ${(settledIn / 1000).toFixed(1)} s after)`,
      'jobs dispatched by the fan-out': dispatches.jobs,
      'jobs dispatched again (after a lease expiry)': dispatches.redispatched,
      'jobs dispatched twice within one lease': dispatches.twiceWithinLease.length,
      'jobs with attempt_count > 0 (claims the killed leader took with it)': recovered,
      'valuations applied (calculator metrics)': applied,
    });
    s.print();

    expect(violations).toEqual([]);
    expect(report.byStatus).toEqual({ COMPLETE: total });
    expect(takeover).toBeLessThan(LEASE_SECONDS * 1000);
    expect(dispatches.jobs).toBe(total);
    expect(dispatches.twiceWithinLease).toEqual([]);
  });
});
