import { FaultScenario } from './support/fault-harness';

/**
 * Scenario 1: a calculator is killed with SIGKILL in the middle of a drain. Its partitions go to the
 * other calculator once its session times out, the jobs it had claimed are recovered when their lease
 * expires (attempt_count + 1), and every job still completes exactly once.
 */
describe('fault 1: kill -9 a calculator mid-drain', () => {
  let s: FaultScenario;

  beforeAll(async () => {
    s = await FaultScenario.open('fault 1: kill -9 a calculator mid-drain', {
      VALUATION_CLAIM_LEASE_SECONDS: '5',
    });
  });
  afterAll(() => s.close());

  it('hands the partitions over, recovers the claims after the lease, completes every job once', async () => {
    await s.start('scheduler', 'scheduler');
    const [victim, survivor] = await s.startCalculators(['calculator-1', 'calculator-2']);
    const { jobs: total } = await s.seed({ portfolios: 150, holdings: 20, securities: 60, days: 2 });
    const before = await s.waitForComplete(total * 0.15);
    const victimPartitions = (await s.kafka.assignment(s.group, s.topics.valuationRequired))?.get(
      victim.name,
    );
    await victim.stop('SIGKILL');
    const killedAt = Date.now();

    const takeover = await s.waitFor(
      async () => {
        const a = await s.kafka.assignment(s.group, s.topics.valuationRequired);
        return a?.size === 1 && a.get(survivor.name)?.length === 6 ? Date.now() - killedAt : undefined;
      },
      60000,
      'the survivor to own every partition',
    );
    const settledIn = await s.awaitSettled(120000, (c) => c.COMPLETE === total);
    const recovered = await s.count(
      `SELECT count(*) AS n FROM portfolio_valuation_jobs WHERE attempt_count > 0`,
    );
    const maxAttempts = await s.count(`SELECT max(attempt_count) AS n FROM portfolio_valuation_jobs`);
    const { report, violations } = await s.invariants(
      { kind: 'one-per-snapshot' },
      { jobs: total, resends: 'reported' },
    );

    Object.assign(s.figures, {
      jobs: total,
      'at the kill: COMPLETE / PROCESSING': `${before.COMPLETE ?? 0} / ${before.PROCESSING ?? 0}`,
      "victim's partitions": victimPartitions?.join(',') ?? '?',
      'partition takeover after the kill': `${(takeover / 1000).toFixed(1)} s`,
      'drain complete after the kill': `${((takeover + settledIn) / 1000).toFixed(1)} s`,
      'jobs recovered via lease expiry (attempt_count > 0)': recovered,
      'highest attempt_count': maxAttempts,
      "survivor's lost_claim (stale redeliveries)": await s.processed(survivor, 'lost_claim'),
    });
    s.print();

    expect(violations).toEqual([]);
    expect(report.byStatus).toEqual({ COMPLETE: total });
    expect(recovered).toBeGreaterThan(0);
  });
});
