import { metricValue, type ManagedProcess } from '../../scripts/lib/managed-process';
import { FaultScenario } from './support/fault-harness';

/** Good jobs beside jobs of securities whose price never arrives. */
async function seedBoth(s: FaultScenario) {
  const good = await s.seed({ portfolios: 20, holdings: 5, securities: 10, days: 2 });
  const starved = await s.seed({
    portfolios: 10,
    holdings: 2,
    securities: 2,
    days: 2,
    prefix: 'NP-',
    priced: false,
  });
  return { good: good.jobs, starved: starved.jobs, total: good.jobs + starved.jobs };
}

const gauge = async (p: ManagedProcess, name: string) => metricValue(await p.metrics(), name) ?? 0;

/**
 * Scenario 9: the price of some securities never arrives. With VALUATION_RETRY_MAX_ATTEMPTS=3 and a
 * 1 s backoff their jobs retry, then end FAILED with "retries exhausted"; with 0 they keep retrying
 * for ever, and the scheduler's valuation_jobs_over_attempt_threshold counts them for the alert.
 * The good jobs beside them complete either way.
 */
describe('fault 9: data never arrives', () => {
  describe('with VALUATION_RETRY_MAX_ATTEMPTS=3', () => {
    let s: FaultScenario;
    beforeAll(async () => {
      s = await FaultScenario.open('fault 9a: data never arrives, at most 3 attempts', {
        VALUATION_RETRY_MAX_ATTEMPTS: '3',
        VALUATION_RETRY_BACKOFF_SECONDS: '1',
        VALUATION_RETRY_BACKOFF_MULTIPLIER: '1',
      });
    });
    afterAll(() => s.close());

    it('fails the starved jobs with "retries exhausted" after 3 attempts', async () => {
      await s.start('scheduler', 'scheduler');
      const calculators = await s.startCalculators(['calculator-1']);
      const started = Date.now();
      const { good, starved, total } = await seedBoth(s);
      await s.awaitSettled(60000, (c) => c.COMPLETE === good && c.FAILED === starved);
      const settledIn = Date.now() - started;
      const { rows } = await s.db.query<{ reason: string; attempts: number }>(
        `SELECT failure_reason AS reason, attempt_count AS attempts FROM portfolio_valuation_jobs
          WHERE status = 'FAILED' ORDER BY id`,
      );
      const failedSnapshots = await s.count(
        `SELECT count(*) AS n FROM daily_position_snapshots WHERE valuation_status = 'FAILED'`,
      );
      const applied = await s.appliedValuations(calculators);
      const { report, violations } = await s.invariants({ kind: 'counted', count: applied }, { jobs: total });

      Object.assign(s.figures, {
        'jobs: good / never priced': `${good} / ${starved}`,
        'all settled after': `${(settledIn / 1000).toFixed(1)} s`,
        'FAILED jobs / their attempt counts': `${rows.length} / ${[...new Set(rows.map((r) => r.attempts))].join(', ')}`,
        'a FAILED reason': rows[0]?.reason ?? 'none',
        'FAILED snapshots': failedSnapshots,
        'valuation attempts applied (3 per starved job + 1 per good one)': applied,
      });
      s.print();

      expect(violations).toEqual([]);
      expect(report.byStatus).toEqual({ COMPLETE: good, FAILED: starved });
      expect(rows).toHaveLength(starved);
      for (const r of rows) {
        expect(r.attempts).toBe(3);
        expect(r.reason).toMatch(/^retries exhausted: no market price for NP-SEC/);
      }
      expect(applied).toBe(good + 3 * starved);
    });
  });

  describe('with VALUATION_RETRY_MAX_ATTEMPTS=0', () => {
    let s: FaultScenario;
    beforeAll(async () => {
      s = await FaultScenario.open('fault 9b: data never arrives, unlimited attempts', {
        VALUATION_RETRY_MAX_ATTEMPTS: '0',
        VALUATION_RETRY_BACKOFF_SECONDS: '1',
        VALUATION_RETRY_BACKOFF_MULTIPLIER: '1',
        VALUATION_ALERT_ATTEMPT_THRESHOLD: '2',
      });
    });
    afterAll(() => s.close());

    it('keeps retrying, and the alert gauge counts the starved jobs', async () => {
      const scheduler = await s.start('scheduler', 'scheduler');
      const calculators = await s.startCalculators(['calculator-1']);
      const started = Date.now();
      const { good, starved, total } = await seedBoth(s);
      const alerting = await s.waitFor(
        async () => {
          const n = await gauge(scheduler, 'valuation_jobs_over_attempt_threshold');
          return n === starved ? Date.now() - started : undefined;
        },
        60000,
        'every starved job to be over the alert threshold',
      );
      const attemptsThen = await gauge(scheduler, 'valuation_job_attempts_max');
      // Still retrying: the highest attempt count keeps growing.
      const attemptsLater = await s.waitFor(
        async () => {
          const n = await gauge(scheduler, 'valuation_job_attempts_max');
          return n > attemptsThen ? n : undefined;
        },
        30000,
        'the starved jobs to be attempted again',
      );
      // Stop dispatching so the check sees them at rest: PENDING, with a reason and a due time.
      await scheduler.stop('SIGTERM');
      await s.awaitSettled(30000, (c) => c.COMPLETE === good && c.PENDING === starved);
      const applied = await s.appliedValuations(calculators);
      const { rows } = await s.db.query<{ reason: string; waiting_on: string }>(
        `SELECT DISTINCT failure_reason AS reason, waiting_on FROM portfolio_valuation_jobs WHERE status = 'PENDING'`,
      );
      const { report, violations } = await s.invariants({ kind: 'counted', count: applied }, { jobs: total });

      Object.assign(s.figures, {
        'jobs: good / never priced': `${good} / ${starved}`,
        'valuation_jobs_over_attempt_threshold (threshold 2)': `${starved} after ${(alerting / 1000).toFixed(1)} s`,
        'valuation_job_attempts_max then / a little later': `${attemptsThen} / ${attemptsLater}`,
        'starved jobs at rest': `PENDING, e.g. "${rows[0]?.reason}", waiting on ${rows[0]?.waiting_on}`,
        'valuation attempts applied': applied,
      });
      s.print();

      expect(violations).toEqual([]);
      expect(report.byStatus).toEqual({ COMPLETE: good, PENDING: starved });
      expect(rows.every((r) => /price/i.test(r.reason) && r.waiting_on.startsWith('PRICE:'))).toBe(true);
    });
  });
});
