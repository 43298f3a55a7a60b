import { FaultScenario } from './support/fault-harness';

const LOCK_TIMEOUT_MS = 1000;
/** How long the lock is held: about three cycles of blocked steps (each waits one lock timeout). */
const HOLD_MS = 10 * LOCK_TIMEOUT_MS;
const LOCK_TIMEOUT_FAILURE = /step (\w+) failed: canceling statement due to lock timeout/;

const stamp = (line: string) => Number(/"timestamp":(\d+)/.exec(line)?.[1] ?? NaN);

/**
 * Scenario 11: someone (a migration, an operator's psql session) holds a lock on the job table that
 * blocks every write to it, for several lock timeouts, in the middle of a drain. Every statement of
 * the apps waits at most DATABASE_LOCK_TIMEOUT_MS: the scheduler's blocked steps fail and it keeps
 * cycling instead of hanging on the lock, the calculator's chunk transactions fail and are redelivered,
 * no attempt is counted, and once the lock is released the drain completes with every effect applied
 * once.
 */
describe('fault 11: a lock held on the job table mid-drain', () => {
  let s: FaultScenario;

  beforeAll(async () => {
    s = await FaultScenario.open('fault 11: a lock held on the job table mid-drain', {
      DATABASE_LOCK_TIMEOUT_MS: String(LOCK_TIMEOUT_MS),
      // A lease far longer than the hold: an expiry (an attempt counted) would mean a stranded claim.
      VALUATION_CLAIM_LEASE_SECONDS: '120',
    });
  });
  afterAll(() => s.close());

  it('fails the blocked statements after the lock timeout, keeps cycling, and completes the drain', async () => {
    const scheduler = await s.start('scheduler', 'scheduler');
    const [calculator] = await s.startCalculators(['calculator-1']);
    const { jobs: total } = await s.seed({ portfolios: 150, holdings: 20, securities: 60, days: 4 });
    await s.waitForComplete(total * 0.2);

    // The lock a `LOCK TABLE` in psql takes: reads go on, every INSERT, UPDATE and DELETE waits.
    const holder = await s.db.connect();
    let lockedAt = 0;
    let releasedAt = 0;
    let atLock: Record<string, number> = {};
    let atRelease: Record<string, number> = {};
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE portfolio_valuation_jobs IN SHARE ROW EXCLUSIVE MODE');
      lockedAt = Date.now();
      atLock = await s.jobCounts();
      await new Promise((r) => setTimeout(r, HOLD_MS));
      atRelease = await s.jobCounts();
    } finally {
      await holder.query('COMMIT').catch(() => undefined);
      holder.release();
      releasedAt = Date.now();
    }

    await s.awaitSettled(120000, (c) => c.COMPLETE === total);
    const drainedIn = Date.now() - releasedAt;
    // Statements that started while the lock was held fail up to one lock timeout after its release.
    const windowEnd = releasedAt + LOCK_TIMEOUT_MS + 500;
    const stepFailures = s.logLines(scheduler, /step \w+ failed/, lockedAt, windowEnd);
    const lockFailures = stepFailures.filter((line) => LOCK_TIMEOUT_FAILURE.test(line));
    const failedSteps = new Map<string, number>();
    for (const line of lockFailures) {
      const step = LOCK_TIMEOUT_FAILURE.exec(line)?.[1] ?? '?';
      failedSteps.set(step, (failedSteps.get(step) ?? 0) + 1);
    }
    const stamps = [lockedAt, ...lockFailures.map(stamp), releasedAt].sort((a, b) => a - b);
    const longestQuiet = Math.max(...stamps.slice(1).map((t, i) => t - stamps[i]));
    const calculatorLockFailures = s.logLines(calculator, /lock timeout/, lockedAt, windowEnd).length;
    const attempts = await s.count(
      `SELECT count(*) AS n FROM portfolio_valuation_jobs WHERE attempt_count > 0`,
    );
    const applied = await s.appliedValuations([calculator]);
    const { report, violations } = await s.invariants({ kind: 'one-per-snapshot' }, { jobs: total });

    Object.assign(s.figures, {
      jobs: total,
      'at the lock: COMPLETE / PROCESSING': `${atLock.COMPLETE ?? 0} / ${atLock.PROCESSING ?? 0}`,
      'at the release: COMPLETE / PROCESSING': `${atRelease.COMPLETE ?? 0} / ${atRelease.PROCESSING ?? 0}`,
      'lock held (SHARE ROW EXCLUSIVE on portfolio_valuation_jobs)': `${(HOLD_MS / 1000).toFixed(1)} s, lock timeout ${LOCK_TIMEOUT_MS} ms`,
      'scheduler steps failed on the lock timeout, by step': [...failedSteps]
        .map(([step, n]) => `${step} ${n}`)
        .join(', '),
      'scheduler step failures for another reason': stepFailures.length - lockFailures.length,
      'longest time without a failed step while held': `${(longestQuiet / 1000).toFixed(1)} s`,
      'calculator log lines naming the lock timeout': calculatorLockFailures,
      'drain complete after the release': `${(drainedIn / 1000).toFixed(1)} s`,
      'valuations the calculator counted (metrics)': applied,
      'jobs with attempt_count > 0': attempts,
    });
    s.print();

    expect(violations).toEqual([]);
    expect(report.byStatus).toEqual({ COMPLETE: total });
    expect(attempts).toBe(0);
    // Reads went on while the lock was held, no write to the job table did.
    expect(atRelease).toEqual(atLock);
    // The scheduler kept cycling: dispatch, which claims by UPDATE, failed on the lock timeout in
    // several cycles while the lock was held, and it never went quiet for much longer than that.
    expect(failedSteps.get('dispatch') ?? 0).toBeGreaterThanOrEqual(2);
    expect(stepFailures.length - lockFailures.length).toBe(0);
    expect(longestQuiet).toBeLessThan(4 * LOCK_TIMEOUT_MS);
  });
});
