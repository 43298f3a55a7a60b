import { FaultScenario } from './support/fault-harness';
import { restartPostgres } from './support/infra-control';

const OUTAGE_MS = 4000;

/**
 * Scenario 4: PostgreSQL restarts in the middle of a drain (one stop, a few seconds down, one start).
 * Transactions in flight roll back and their chunks are redelivered (no offset is committed past a
 * failed write); the outage counts no attempt against any job; the scheduler loses its leader lease
 * with its connection and takes it again; the drain completes with every effect applied once.
 */
describe('fault 4: PostgreSQL restart mid-drain', () => {
  let s: FaultScenario;

  beforeAll(async () => {
    // A lease far longer than the outage: an expiry (an attempt counted) would mean a stranded claim,
    // e.g. an offset committed past a write that failed.
    s = await FaultScenario.open('fault 4: PostgreSQL restart mid-drain', {
      VALUATION_CLAIM_LEASE_SECONDS: '120',
    });
  });
  afterAll(() => s.close());

  it('redelivers what failed, counts no attempt for the outage, and completes the drain', async () => {
    const scheduler = await s.start('scheduler', 'scheduler');
    const calculators = await s.startCalculators(['calculator-1', 'calculator-2']);
    const { jobs: total } = await s.seed({ portfolios: 150, holdings: 20, securities: 60, days: 2 });
    const before = await s.waitForComplete(total * 0.25);

    const { stoppingAt, upAt } = await restartPostgres(OUTAGE_MS);
    const settledIn = await s.awaitSettled(100000, (c) => c.COMPLETE === total);
    const attempts = await s.count(
      `SELECT count(*) AS n FROM portfolio_valuation_jobs WHERE attempt_count > 0`,
    );
    const failedBatches = calculators.map((c) => s.logLines(c, /Error when calling eachBatch/).length);
    const crashes = calculators.map((c) => s.logLines(c, /Crash: /).length);
    const relayFailures = calculators.map((c) => s.logLines(c, /outbox relay failed/).length);
    const lostLeadership = s.logLines(scheduler, /no longer the active scheduler/, stoppingAt);
    const regained = s.logLines(scheduler, /became the active scheduler/, stoppingAt);
    const regainedAt = Number(/"timestamp":(\d+)/.exec(regained[0] ?? '')?.[1] ?? NaN);
    const applied = await s.appliedValuations(calculators);
    const { report, violations } = await s.invariants({ kind: 'one-per-snapshot' }, { jobs: total });

    Object.assign(s.figures, {
      jobs: total,
      'at the restart: COMPLETE / PROCESSING': `${before.COMPLETE ?? 0} / ${before.PROCESSING ?? 0}`,
      'PostgreSQL restart (stop issued to start done)': `${((upAt - stoppingAt) / 1000).toFixed(1)} s`,
      'drain complete after PostgreSQL was back': `${(settledIn / 1000).toFixed(1)} s`,
      'failed chunk transactions (redelivered), per calculator': failedBatches.join(' / '),
      'consumer crashes (restarted by kafkajs), per calculator': crashes.join(' / '),
      'outbox relay failures (retried), per calculator': relayFailures.join(' / '),
      'scheduler: leadership lost / regained': `${lostLeadership.length} / ${regained.length} (${
        Number.isNaN(regainedAt)
          ? '?'
          : `regained ${((regainedAt - stoppingAt) / 1000).toFixed(1)} s after the stop`
      })`,
      'valuations the calculators counted (metrics)': applied,
      'jobs with attempt_count > 0': attempts,
    });
    s.print();

    expect(violations).toEqual([]);
    expect(report.byStatus).toEqual({ COMPLETE: total });
    expect(attempts).toBe(0);
    // The leader lease was held over a connection the restart killed: it was lost, then taken again.
    expect(lostLeadership.length).toBeGreaterThanOrEqual(1);
    expect(regained.length).toBeGreaterThanOrEqual(1);
  });
});
