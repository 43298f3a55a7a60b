import { metricValue, type ManagedProcess } from '../../scripts/lib/managed-process';
import { FaultScenario } from './support/fault-harness';
import { dispatchedMessage } from './support/kafka-tools';

const LEADER_LEASE_SECONDS = 4;

const leader = async (p: ManagedProcess) => metricValue(await p.metrics(), 'valuation_scheduler_leader');
const dispatched = async (p: ManagedProcess) =>
  metricValue(await p.metrics(), 'valuation_jobs_dispatched_total') ?? 0;

/**
 * Scenario 13: the active scheduler is paused with SIGSTOP (a long GC pause, a frozen VM and a network
 * partition look the same from outside) while its session to PostgreSQL stays open. The standby takes
 * over within about one leader lease and dispatches the jobs created during the pause; when the paused
 * one resumes it finds it lost leadership before it dispatches anything, and becomes the standby. No
 * job is dispatched under two claims.
 */
describe('fault 13: a frozen leader', () => {
  let s: FaultScenario;

  beforeAll(async () => {
    s = await FaultScenario.open('fault 13: a frozen leader (SIGSTOP / SIGCONT)', {
      VALUATION_LEADER_LEASE_SECONDS: String(LEADER_LEASE_SECONDS),
    });
  });
  afterAll(() => s.close());

  it('is replaced within about one lease, and stands down without dispatching when it wakes', async () => {
    const first = await s.start('scheduler', 'scheduler-1');
    await s.waitFor(async () => ((await leader(first)) === 1 ? true : undefined), 10000, 'a leader');
    const second = await s.start('scheduler', 'scheduler-2');
    const calculators = await s.startCalculators(['calculator-1', 'calculator-2']);
    const before = await s.seed({ portfolios: 300, holdings: 4, securities: 40, days: 2 });
    await s.awaitSettled(90000, (c) => c.COMPLETE === before.jobs);
    expect([await leader(first), await leader(second)]).toEqual([1, 0]);
    const dispatchedBeforePause = await dispatched(first);
    const { rows: lease } = await s.db.query<{ term: string }>(
      `SELECT term::text FROM valuation_scheduler_leader`,
    );

    first.pause();
    const pausedAt = Date.now();
    // Jobs created while the leader is frozen: only the standby can dispatch them.
    const during = await s.seed({ portfolios: 300, holdings: 4, securities: 40, days: 2, prefix: 'B' });
    const takeover = await s.waitFor(
      async () => ((await leader(second)) === 1 ? Date.now() - pausedAt : undefined),
      LEADER_LEASE_SECONDS * 4000,
      'the standby to take over',
    );
    const total = before.jobs + during.jobs;
    const drainedIn = await s.awaitSettled(90000, (c) => c.COMPLETE === total);
    const pausedFor = Date.now() - pausedAt;

    // Taken before the SIGCONT: the woken scheduler may log its stand-down before this process runs again.
    const resumedAt = Date.now();
    first.resume();
    const stoodDown = await s.waitFor(
      async () => ((await leader(first)) === 0 ? Date.now() - resumedAt : undefined),
      10000,
      'the resumed scheduler to stand down',
    );
    // A few cycles' worth of time as a standby: it must not dispatch again.
    await new Promise((r) => setTimeout(r, 2000));
    // Nothing was left to dispatch when it froze (every job was COMPLETE): all it counts since is new.
    const dispatchedAfterWaking = (await dispatched(first)) - dispatchedBeforePause;
    const standDownLines = s.logLines(first, /no longer the active scheduler/, resumedAt);
    const leaders = [await leader(first), await leader(second)];
    const { rows: after } = await s.db.query<{ term: string }>(
      `SELECT term::text FROM valuation_scheduler_leader`,
    );

    const claimsPerJob = new Map<string, Set<string>>();
    for (const m of await s.kafka.readTopic(s.topics.valuationRequired)) {
      const v = dispatchedMessage(m.value);
      claimsPerJob.set(v.job_id, (claimsPerJob.get(v.job_id) ?? new Set()).add(v.claim_token));
    }
    const underTwoClaims = [...claimsPerJob.values()].filter((c) => c.size > 1).length;
    const applied = await s.appliedValuations(calculators);
    const { report, violations } = await s.invariants({ kind: 'counted', count: applied }, { jobs: total });

    Object.assign(s.figures, {
      'jobs before the pause / created during it': `${before.jobs} / ${during.jobs}`,
      'standby active after the SIGSTOP': `${(takeover / 1000).toFixed(2)} s (leader lease ${LEADER_LEASE_SECONDS} s)`,
      'jobs created during the pause complete, with the leader still frozen, after': `${(drainedIn / 1000).toFixed(1)} s (paused ${(pausedFor / 1000).toFixed(1)} s)`,
      'lease term before / after': `${lease[0].term} / ${after[0].term}`,
      'resumed scheduler stood down after': `${(stoodDown / 1000).toFixed(2)} s (log: "${
        standDownLines[0] ? (JSON.parse(standDownLines[0]) as { message: string }).message : 'none'
      }")`,
      'dispatched by the frozen one before the pause / after waking': `${dispatchedBeforePause} / ${dispatchedAfterWaking}`,
      'leader gauges at the end (first, second)': leaders.join(', '),
      'jobs dispatched / under two claims': `${claimsPerJob.size} / ${underTwoClaims}`,
    });
    s.print();

    expect(takeover).toBeLessThan(LEADER_LEASE_SECONDS * 2000);
    expect(dispatchedAfterWaking).toBe(0);
    expect(standDownLines.length).toBeGreaterThanOrEqual(1);
    expect(leaders).toEqual([0, 1]);
    expect(Number(after[0].term)).toBe(Number(lease[0].term) + 1);
    expect(underTwoClaims).toBe(0);
    expect(violations).toEqual([]);
    expect(report.byStatus).toEqual({ COMPLETE: total });
  });
});
