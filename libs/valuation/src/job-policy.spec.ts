import {
  JobFailurePolicy,
  LegacyJobPolicy,
  retryAfterFailure,
  RetryingJobPolicy,
  type JobTransition,
} from './job-policy';
import { Dec } from './money';
import type { RetrySettings } from './retry-backoff';
import type { Snapshot, ValuationOutcome } from './valuation.types';

const snapshot = (
  valuationStatus: Snapshot['valuationStatus'],
  failureReason: string | null = null,
): Snapshot => ({
  quantity: new Dec(100),
  costBasis: new Dec(10000),
  costBasisLocal: new Dec(10000),
  marketPrice: null,
  marketValue: null,
  marketValueLocal: null,
  unrealizedGainLoss: null,
  unrealizedGainLossLocal: null,
  valuationStatus,
  failureReason,
});

const MISSING_PRICE = 'no market price for SEC1 on or before 2024-01-05';
const BAD_PRICE = 'non-positive price 0 for SEC1 on 2024-01-05';

const outcomes = {
  valued: { kind: 'valued', snapshot: snapshot('VALUED_STALE') },
  missing: {
    kind: 'missing_data',
    reason: MISSING_PRICE,
    waitingOn: { kind: 'PRICE' },
    snapshot: snapshot('FAILED', MISSING_PRICE),
  },
  missingFx: {
    kind: 'missing_data',
    reason: 'no FX rate EUR/USD on or before 2024-01-05',
    waitingOn: { kind: 'FX', from: 'EUR', to: 'USD' },
    snapshot: snapshot('FAILED', 'no FX rate EUR/USD on or before 2024-01-05'),
  },
  noPosition: { kind: 'no_position' },
  superseded: { kind: 'superseded' },
  invalid: { kind: 'invalid', reason: BAD_PRICE, snapshot: snapshot('FAILED', BAD_PRICE) },
} satisfies Record<string, ValuationOutcome>;

const DEFAULTS: RetrySettings = {
  backoffSeconds: 600,
  backoffMultiplier: 1,
  backoffMaxSeconds: 21600,
  maxAttempts: 0,
};
const noJitter = () => 0;
const retrying = (s: Partial<RetrySettings> = {}) => new RetryingJobPolicy({ ...DEFAULTS, ...s }, noJitter);
const legacy = () => new LegacyJobPolicy();

const settledWith = (
  status: JobTransition['status'],
  attemptCount: number,
  outcome: JobTransition['outcome'],
) => ({
  status,
  attemptCount,
  failureReason: null,
  delaySeconds: null,
  waitingOn: null,
  outcome,
});

describe('job failure policies: contract §4', () => {
  it.each<[string, () => JobFailurePolicy, ValuationOutcome, number, JobTransition]>([
    [
      'retrying: valued → COMPLETE, count kept',
      retrying,
      outcomes.valued,
      4,
      settledWith('COMPLETE', 4, 'complete'),
    ],
    [
      'legacy: valued → COMPLETE, count kept',
      legacy,
      outcomes.valued,
      4,
      settledWith('COMPLETE', 4, 'complete'),
    ],
    [
      'retrying: missing price → PENDING after backoff, waiting on the price',
      retrying,
      outcomes.missing,
      2,
      {
        status: 'PENDING',
        attemptCount: 3,
        failureReason: MISSING_PRICE,
        delaySeconds: 600,
        waitingOn: { kind: 'PRICE' },
        outcome: 'retry_scheduled',
      },
    ],
    [
      'retrying: missing FX → PENDING, waiting on the pair',
      retrying,
      outcomes.missingFx,
      0,
      {
        status: 'PENDING',
        attemptCount: 1,
        failureReason: 'no FX rate EUR/USD on or before 2024-01-05',
        delaySeconds: 600,
        waitingOn: { kind: 'FX', from: 'EUR', to: 'USD' },
        outcome: 'retry_scheduled',
      },
    ],
    [
      'retrying: missing data with attempts exhausted → FAILED',
      () => retrying({ maxAttempts: 3 }),
      outcomes.missing,
      2,
      {
        status: 'FAILED',
        attemptCount: 3,
        failureReason: `retries exhausted: ${MISSING_PRICE}`,
        delaySeconds: null,
        waitingOn: null,
        outcome: 'failed',
      },
    ],
    [
      'legacy: missing data → COMPLETE with the reason (terminal, the old behaviour)',
      legacy,
      outcomes.missing,
      0,
      {
        status: 'COMPLETE',
        attemptCount: 1,
        failureReason: MISSING_PRICE,
        delaySeconds: null,
        waitingOn: null,
        outcome: 'complete',
      },
    ],
    [
      'retrying: no position → SKIPPED_NO_POSITION',
      retrying,
      outcomes.noPosition,
      1,
      settledWith('SKIPPED_NO_POSITION', 1, 'skipped_no_position'),
    ],
    [
      'legacy: no position → SKIPPED_NO_POSITION',
      legacy,
      outcomes.noPosition,
      1,
      settledWith('SKIPPED_NO_POSITION', 1, 'skipped_no_position'),
    ],
    [
      'retrying: obsolete epoch → SKIPPED_SUPERSEDED',
      retrying,
      outcomes.superseded,
      0,
      settledWith('SKIPPED_SUPERSEDED', 0, 'skipped_superseded'),
    ],
    [
      'legacy: obsolete epoch → SKIPPED_SUPERSEDED',
      legacy,
      outcomes.superseded,
      0,
      settledWith('SKIPPED_SUPERSEDED', 0, 'skipped_superseded'),
    ],
    [
      'retrying: bad reference data → FAILED at once, even with attempts left',
      () => retrying({ maxAttempts: 10 }),
      outcomes.invalid,
      0,
      {
        status: 'FAILED',
        attemptCount: 1,
        failureReason: BAD_PRICE,
        delaySeconds: null,
        waitingOn: null,
        outcome: 'failed',
      },
    ],
    [
      'legacy: bad reference data → FAILED',
      legacy,
      outcomes.invalid,
      0,
      {
        status: 'FAILED',
        attemptCount: 1,
        failureReason: BAD_PRICE,
        delaySeconds: null,
        waitingOn: null,
        outcome: 'failed',
      },
    ],
  ])('%s', (_name, policy, outcome, previousAttempts, expected) => {
    expect(policy().transition(outcome, previousAttempts)).toEqual(expected);
  });

  it('names itself as VALUATION_JOB_POLICY does', () => {
    expect([retrying().name, legacy().name]).toEqual(['retrying', 'legacy']);
  });

  it('passes its random source to the backoff', () => {
    const policy = new RetryingJobPolicy(DEFAULTS, () => 0.5);
    expect(policy.transition(outcomes.missing, 0).delaySeconds).toBe(630);
  });

  it('backs off by the failure count, capped', () => {
    const policy = retrying({ backoffSeconds: 10, backoffMultiplier: 2, backoffMaxSeconds: 60 });
    const delays = [0, 1, 2, 3, 4].map(
      (previous) => policy.transition(outcomes.missing, previous).delaySeconds,
    );
    expect(delays).toEqual([10, 20, 40, 60, 60]);
  });
});

describe('retryAfterFailure: the max attempts boundary', () => {
  const run = (maxAttempts: number, attempts: number) => {
    const statuses: string[] = [];
    let count = 0;
    for (let i = 0; i < attempts; i += 1) {
      const next = retryAfterFailure(count, 'claim lease expired', { ...DEFAULTS, maxAttempts }, noJitter);
      statuses.push(next.status);
      count = next.attemptCount;
    }
    return { statuses, count };
  };

  it.each<[number, number, string[]]>([
    [3, 3, ['PENDING', 'PENDING', 'FAILED']],
    [1, 1, ['FAILED']],
    [2, 2, ['PENDING', 'FAILED']],
  ])('max %p: attempts end %p', (maxAttempts, attempts, expected) => {
    expect(run(maxAttempts, attempts)).toEqual({ statuses: expected, count: attempts });
  });

  it('never fails a job when max attempts is 0 (unlimited)', () => {
    const { statuses } = run(0, 1000);
    expect(new Set(statuses)).toEqual(new Set(['PENDING']));
  });

  it('fails a job already past a lowered maximum on its next failure', () => {
    expect(retryAfterFailure(7, 'x', { ...DEFAULTS, maxAttempts: 3 }).status).toBe('FAILED');
  });

  it('prefixes the reason once retries are exhausted', () => {
    expect(retryAfterFailure(2, 'claim lease expired', { ...DEFAULTS, maxAttempts: 3 })).toEqual({
      status: 'FAILED',
      attemptCount: 3,
      failureReason: 'retries exhausted: claim lease expired',
      delaySeconds: null,
      waitingOn: null,
      outcome: 'failed',
    });
  });

  it('schedules a PENDING retry without a waitingOn of its own', () => {
    expect(retryAfterFailure(0, 'claim lease expired', DEFAULTS, noJitter)).toEqual({
      status: 'PENDING',
      attemptCount: 1,
      failureReason: 'claim lease expired',
      delaySeconds: 600,
      waitingOn: null,
      outcome: 'retry_scheduled',
    });
  });
});
