import { metricValue } from '../../scripts/lib/managed-process';
import { FAULTS_BROKERS, FaultScenario } from './support/fault-harness';
import { brokerDown, brokerIsOurs, brokerUp } from './support/infra-control';

// With the start and stop times of the broker, it is unreachable for about twice this long: longer than
// the scheduler gives a publish before it releases the claims (10 s).
const OUTAGE_MS = 8000;

/**
 * Scenario 3: the broker restarts in the middle of a drain (kafka.sh down, then up). Producers and
 * consumers reconnect, the scheduler neither spins nor strands claims (a publish that failed releases
 * its claims), new jobs inserted during the outage are dispatched afterwards, and the drain completes
 * with every effect applied once.
 */
describe('fault 3: broker restart mid-drain', () => {
  let s: FaultScenario;

  beforeAll(async () => {
    if (!brokerIsOurs(FAULTS_BROKERS))
      throw new Error(
        `the broker at ${FAULTS_BROKERS} is not managed by scripts/kafka/kafka.sh: cannot restart it`,
      );
    // A lease longer than the outage and the rebalance after it: a job that still needs a lease expiry
    // to finish had its claim stranded somewhere, and the drain would not complete in time.
    s = await FaultScenario.open('fault 3: broker restart mid-drain', {
      VALUATION_CLAIM_LEASE_SECONDS: '180',
    });
  });
  afterAll(async () => {
    // Whatever happened, leave the broker up for the next scenario.
    if (!brokerIsOurs(FAULTS_BROKERS)) brokerUp(FAULTS_BROKERS);
    await s.close();
  });

  it('reconnects everything, releases failed claims, does not spin, and completes the drain', async () => {
    const scheduler = await s.start('scheduler', 'scheduler');
    const calculators = await s.startCalculators(['calculator-1', 'calculator-2']);
    const first = await s.seed({ portfolios: 150, holdings: 20, securities: 60, days: 2 });
    const before = await s.waitForComplete(first.jobs * 0.3);

    const downAt = Date.now();
    brokerDown(FAULTS_BROKERS);
    // An upstream writer keeps inserting jobs: the scheduler must try to dispatch them into the outage.
    const second = await s.seed({ portfolios: 50, holdings: 10, securities: 20, days: 2, prefix: 'W2-' });
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    brokerUp(FAULTS_BROKERS);
    const upAt = Date.now();
    await s.kafka.close(); // the suite's own clients reconnect afresh

    const total = first.jobs + second.jobs;
    const settledIn = await s.awaitSettled(150000, (c) => c.COMPLETE === total);
    const recovered = await s.count(
      `SELECT count(*) AS n FROM portfolio_valuation_jobs WHERE attempt_count > 0`,
    );
    const outageLines = s.logLines(scheduler, undefined, downAt, upAt);
    const failedPublishes = s.logLines(scheduler, /publishing \d+ jobs failed/);
    const released = failedPublishes.reduce(
      (n, l) => n + Number(/(\d+) claims released/.exec(l)?.[1] ?? 0),
      0,
    );
    const dispatched = metricValue(await scheduler.metrics(), 'valuation_jobs_dispatched_total') ?? 0;
    const requests = await s.kafka.readTopic(s.topics.valuationRequired);
    const applied = await s.appliedValuations(calculators);
    const crashes = calculators.map((c) => s.logLines(c, /Crash: /).length);
    const { report, violations } = await s.invariants({ kind: 'counted', count: applied }, { jobs: total });

    const outage = (upAt - downAt) / 1000;
    Object.assign(s.figures, {
      jobs: `${total} (${second.jobs} inserted during the outage)`,
      'COMPLETE when the broker went down': before.COMPLETE ?? 0,
      'broker outage (down, then up and ready)': `${outage.toFixed(1)} s`,
      'drain complete after the broker was back': `${(settledIn / 1000).toFixed(1)} s`,
      'scheduler log lines during the outage': `${outageLines.length} (${(outageLines.length / outage).toFixed(1)}/s)`,
      'failed dispatch publishes / claims released': `${failedPublishes.length} / ${released}`,
      'dispatched_total / messages on valuation_required': `${dispatched} / ${requests.length}`,
      'calculator consumer crashes (kafkajs restarts them)': crashes.join(' / '),
      'jobs with attempt_count > 0': recovered,
    });
    s.print();

    expect(violations).toEqual([]);
    expect(report.byStatus).toEqual({ COMPLETE: total });
    // It tried to dispatch into the outage, and gave every claim of a failed publish back.
    expect(failedPublishes.length).toBeGreaterThan(0);
    expect(released).toBeGreaterThan(0);
    // No busy loop: at most one failed publish per poll interval, and a handful of lines a second.
    expect(failedPublishes.length).toBeLessThanOrEqual(Math.ceil((outage * 1000) / 250));
    expect(outageLines.length / outage).toBeLessThan(20);
    // The counter counts what reached the broker: every dispatched message is on the topic.
    expect(requests.length).toBeGreaterThanOrEqual(dispatched);
    expect(recovered).toBe(0);
  });
});
