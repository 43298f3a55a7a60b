import { FaultScenario } from './support/fault-harness';

/**
 * Scenario 6: a calculator is frozen (SIGSTOP) in the middle of a drain while it holds claimed jobs,
 * for longer than the lease. The scheduler re-issues those claims, another calculator takes the
 * partitions and completes every job. When the frozen worker resumes (SIGCONT) it carries on with the
 * messages it had fetched, under claims that are no longer current: it writes nothing.
 */
describe('fault 6: stale worker resumed after its lease', () => {
  let s: FaultScenario;

  beforeAll(async () => {
    s = await FaultScenario.open('fault 6: stale worker resumed after its lease', {
      VALUATION_CLAIM_LEASE_SECONDS: '4',
    });
  });
  afterAll(() => s.close());

  const effects = async () => ({
    snapshots: await s.count(`SELECT count(*) AS n FROM daily_position_snapshots`),
    outbox: await s.count(`SELECT count(*) AS n FROM valuation_outbox`),
  });

  it('lets the resumed worker write nothing', async () => {
    await s.start('scheduler', 'scheduler');
    const [stale] = await s.startCalculators(['calculator-1']);
    const { jobs: total } = await s.seed({ portfolios: 150, holdings: 20, securities: 60, days: 1 });
    const before = await s.waitForComplete(total * 0.1);
    stale.pause();
    const pausedAt = Date.now();

    // The frozen member cannot answer the rebalance: the group hands its partitions over only when its
    // session times out (30 s).
    const [fresh] = await s.startCalculators(['calculator-2']);
    // Every job completes without the frozen worker. Its outbox relay may still hold events it was
    // sending when it froze: those go out once it resumes, so publishing is not waited for here.
    const completedIn = await s.waitFor(
      async () => ((await s.jobCounts()).COMPLETE === total ? Date.now() - pausedAt : undefined),
      120000,
      'every job to complete without the frozen worker',
    );
    const reissued = await s.count(
      `SELECT count(*) AS n FROM portfolio_valuation_jobs WHERE attempt_count > 0`,
    );
    const atResume = await effects();

    const resumedAt = new Date();
    stale.resume();
    // It carries on with what it had fetched, then rejoins the group beside the fresh one. What it was
    // doing is rejected one of three ways: a chunk it reads now fails the claim check (lost_claim); a
    // transaction it had open when it froze was ended by the server (idle-in-transaction timeout); or,
    // frozen in a commit or heartbeat, it learns first that the group dropped it, and drops what it
    // had fetched.
    await s.waitFor(
      async () =>
        (await s.kafka.assignment(s.group, s.topics.valuationRequired))?.size === 2 ? true : undefined,
      60000,
      'the resumed worker to rejoin the group',
    );
    const lostClaims = await s.processed(stale, 'lost_claim');
    const rolledBack = s.logLines(stale, /Error when calling eachBatch/, resumedAt.getTime() - 1000).length;
    const dropped = s.logLines(stale, /not aware of this member/, resumedAt.getTime() - 1000).length > 0;
    const relayRolledBack = s.logLines(stale, /events sent but not marked published/).length;
    const staleComplete = await s.processed(stale, 'complete');
    await s.awaitSettled(90000, (c) => c.COMPLETE === total);
    const changedSinceResume = await s.count(
      `SELECT count(*) AS n FROM portfolio_valuation_jobs WHERE updated_at >= $1`,
      [resumedAt],
    );
    const afterResume = await effects();
    // The invariant includes the topic: exactly one event per valuation, none from the stale worker.
    const { report, violations } = await s.invariants({ kind: 'one-per-snapshot' }, { jobs: total });

    Object.assign(s.figures, {
      jobs: total,
      'at SIGSTOP: COMPLETE / PROCESSING': `${before.COMPLETE ?? 0} / ${before.PROCESSING ?? 0}`,
      'claims re-issued after the lease (attempt_count > 0)': reissued,
      'every job COMPLETE without the frozen worker': `${(completedIn / 1000).toFixed(1)} s after SIGSTOP`,
      'resumed worker: lost_claim / chunks rolled back by the server / dropped by the group': `${lostClaims} / ${rolledBack} / ${dropped ? 'yes' : 'no'}`,
      'resumed worker: jobs it completed (all before SIGSTOP)': staleComplete,
      "resumed worker's relay: sends it had to mark after resuming": relayRolledBack,
      'snapshots / outbox events at resume -> after': `${atResume.snapshots} / ${atResume.outbox} -> ${afterResume.snapshots} / ${afterResume.outbox}`,
      'job rows changed after the resume': changedSinceResume,
    });
    s.print();

    expect(violations).toEqual([]);
    expect(report.byStatus).toEqual({ COMPLETE: total });
    expect(reissued).toBeGreaterThan(0);
    expect(fresh.running).toBe(true);
    // The fault happened: the resumed worker had stale work, and it was rejected one of those ways.
    expect(lostClaims + rolledBack > 0 || dropped).toBe(true);
    expect([afterResume.snapshots, afterResume.outbox]).toEqual([atResume.snapshots, atResume.outbox]);
    expect(changedSinceResume).toBe(0);
  });
});
