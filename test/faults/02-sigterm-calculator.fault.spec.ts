import type { ManagedProcess } from '../../scripts/lib/managed-process';
import { FaultScenario } from './support/fault-harness';

/**
 * Scenario 2: SIGTERM to calculators under load. Each finishes the chunk in flight, commits it, leaves
 * the group, publishes its outbox events and exits 0 within 10 s. The next owner of the partitions
 * finishes the remaining jobs under their original claims: no job is recovered through a lease expiry,
 * and nothing a leaver committed is delivered again. First one of two calculators is stopped (the
 * other takes over at once), then the last one (a single-instance restart: calculator-3 takes over).
 */
describe('fault 2: SIGTERM a calculator under load', () => {
  let s: FaultScenario;

  beforeAll(async () => {
    // A lease the hand-overs fit in several times: an expiry here would mean a stranded claim.
    s = await FaultScenario.open('fault 2: SIGTERM a calculator under load', {
      VALUATION_CLAIM_LEASE_SECONDS: '30',
    });
  });
  afterAll(() => s.close());

  /** SIGTERM, and what the leaver left behind the moment it exited. */
  async function terminate(p: ManagedProcess) {
    const exitMs = await p.stop('SIGTERM', 15000);
    const unpublished = await s.count(
      `SELECT count(*) AS n FROM valuation_outbox WHERE published_at IS NULL`,
    );
    return { exitMs, unpublished, leftGroup: s.logLines(p, /left the consumer group/).length };
  }

  it('finishes its chunk, commits, publishes, leaves within 10 s, and strands no claim', async () => {
    await s.start('scheduler', 'scheduler');
    const [first, second] = await s.startCalculators(['calculator-1', 'calculator-2']);
    const { jobs: total } = await s.seed({ portfolios: 150, holdings: 20, securities: 60, days: 2 });
    const before = await s.waitForComplete(total * 0.15);

    const one = await terminate(first);
    const stoppedAt = Date.now();
    const handover = await s.waitFor(
      async () => {
        const a = await s.kafka.assignment(s.group, s.topics.valuationRequired);
        return a?.size === 1 && a.get(second.name)?.length === 6 ? Date.now() - stoppedAt : undefined;
      },
      30000,
      'the other calculator to own every partition',
    );
    const secondRedelivered = await s.processed(second, 'lost_claim');
    const middle = await s.waitForComplete((before.COMPLETE ?? 0) + total * 0.15);

    const two = await terminate(second);
    const [third] = await s.startCalculators(['calculator-3']);
    const settledIn = await s.awaitSettled(60000, (c) => c.COMPLETE === total);
    const thirdRedelivered = await s.processed(third, 'lost_claim');
    const leaseRecovered = await s.count(
      `SELECT count(*) AS n FROM portfolio_valuation_jobs
        WHERE attempt_count > 0 OR failure_reason LIKE '%claim lease expired%'`,
    );
    const { report, violations } = await s.invariants({ kind: 'one-per-snapshot' }, { jobs: total });

    const exit = (p: ManagedProcess, t: { exitMs: number }) =>
      `${(t.exitMs / 1000).toFixed(2)} s, exit code ${p.exitCode ?? p.exitSignal}`;
    Object.assign(s.figures, {
      jobs: total,
      '1st SIGTERM (of two): COMPLETE / PROCESSING then': `${before.COMPLETE ?? 0} / ${before.PROCESSING ?? 0}`,
      '1st SIGTERM to exit': exit(first, one),
      '1st: partitions handed over after the exit': `${(handover / 1000).toFixed(1)} s`,
      '2nd SIGTERM (the last one): COMPLETE / PROCESSING then': `${middle.COMPLETE ?? 0} / ${middle.PROCESSING ?? 0}`,
      '2nd SIGTERM to exit': exit(second, two),
      'outbox events unpublished right after each exit (2nd: nobody else relays)': `${one.unpublished} / ${two.unpublished}`,
      "'left the consumer group' logged": `${one.leftGroup} / ${two.leftGroup}`,
      'messages delivered again to the next owner (lost_claim)': `${secondRedelivered} / ${thirdRedelivered}`,
      'drain complete after calculator-3 was ready': `${(settledIn / 1000).toFixed(1)} s`,
      'jobs recovered via lease expiry': leaseRecovered,
    });
    s.print();

    expect(violations).toEqual([]);
    expect(report.byStatus).toEqual({ COMPLETE: total });
    for (const [p, t] of [
      [first, one],
      [second, two],
    ] as const) {
      expect(t.exitMs).toBeLessThan(10000);
      expect(p.exitCode).toBe(0);
      expect(t.leftGroup).toBe(1);
    }
    expect(leaseRecovered).toBe(0);
    // Every chunk a leaver finished was committed before it left: none of it comes back...
    expect([secondRedelivered, thirdRedelivered]).toEqual([0, 0]);
    // ...and the last one out published every event its transactions wrote.
    expect(two.unpublished).toBe(0);
  });
});
