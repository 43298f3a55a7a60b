import { planAttempts, settleAttempts, uniqueRequests, type JobState } from './attempt-plan';
import { JobFailurePolicy, LegacyJobPolicy, RetryingJobPolicy, type JobTransition } from './job-policy';
import type { AttemptResult, ValuationRequest } from './job-repository.port';
import { formatAmount, type Dec } from './money';
import { VALUATION_DATE, valuationInput } from './valuation-input.fixture';
import type { ValuationInput } from './valuation.types';

// Specs of the planning alone: the job states are what the batch's read would have found.

const request = (
  claimToken: string | null = null,
  securityId = 'SEC1',
  correlationId: string | null = 'msg-corr',
): ValuationRequest => ({
  key: { ...valuationInput().job, securityId },
  correlationId,
  claimToken,
});

/** A PENDING job that is due and values cleanly, unless overridden. */
const job = (found: Partial<JobState> = {}): JobState => ({
  jobId: '7',
  status: 'PENDING',
  claimToken: null,
  due: true,
  attemptCount: 0,
  correlationId: 'job-corr',
  input: valuationInput(),
  ...found,
});

const retrying = (maxAttempts = 0) =>
  new RetryingJobPolicy(
    { backoffSeconds: 600, backoffMultiplier: 2, backoffMaxSeconds: 21600, maxAttempts },
    () => 0,
  );
const legacy = new LegacyJobPolicy();

/** A result as one line: its outcome, and its reason when it has one. */
const shown = (r: AttemptResult) => (r.reason === null ? r.outcome : `${r.outcome}: ${r.reason}`);

/** Plans a batch and settles it as if the write finished every attempt. */
function planned(requests: ValuationRequest[], jobs: JobState[], policy: JobFailurePolicy = retrying()) {
  const plan = planAttempts(requests, jobs, policy);
  return { plan, results: settleAttempts(plan, new Set(plan.writes.map((w) => w.jobId))) };
}

describe('planAttempts: who may act on the job as found', () => {
  const processing = (claimToken: string): Partial<JobState> => ({ status: 'PROCESSING', claimToken });

  it.each<[string, string | null, Partial<JobState>, string]>([
    ['unknown job', null, { jobId: null, status: null }, 'unknown_job: no job with this key'],
    ['claimless, the job PENDING and due', null, {}, 'complete'],
    ['claimless, the job PENDING but backing off', null, { due: false }, 'lost_claim: job is PENDING'],
    ['claimless, the job PROCESSING', null, processing('c1'), 'lost_claim: job is PROCESSING'],
    ['claimed, holding the claim', 'c1', processing('c1'), 'complete'],
    [
      'claimed, the job re-issued under another claim',
      'c1',
      processing('c2'),
      'lost_claim: job is PROCESSING',
    ],
    ['claimed, the claim released (PENDING)', 'c1', {}, 'lost_claim: job is PENDING'],
    ['claimed, the job COMPLETE', 'c1', { status: 'COMPLETE' }, 'lost_claim: job is COMPLETE'],
  ])('%s', (_, claimToken, found, result) => {
    const r = request(claimToken);
    const state = job(found);
    const { plan, results } = planned([r], [state]);
    const attempted = result === 'complete';

    expect(results.map(shown)).toEqual([result]);
    expect(results[0]).toMatchObject({ request: r, jobId: state.jobId });
    expect(plan.results.map((p) => p.attemptOf)).toEqual([attempted ? '7' : null]);
    expect(plan.writes.map((w) => [w.jobId, w.claimToken])).toEqual(attempted ? [['7', claimToken]] : []);
  });
});

describe('planAttempts: copies within a batch (one key, so one job)', () => {
  const current: Partial<JobState> = { status: 'PROCESSING', claimToken: 'c1' };
  const DUPLICATE = 'lost_claim: duplicate in batch';

  it.each<[string, (string | null)[], Partial<JobState>[], string[]]>([
    ['a claimless request twice: attempted once', [null, null], [{}], ['complete', DUPLICATE]],
    ['a claimed request twice: attempted once', ['c1', 'c1'], [current], ['complete', DUPLICATE]],
    [
      'a stale copy ahead of the current claim does not hide it',
      ['c0', 'c1', 'c1'],
      [current, current],
      ['lost_claim: job is PROCESSING', 'complete', DUPLICATE],
    ],
    [
      'a claimless copy beside the claimed one',
      [null, 'c1', null],
      [current, current],
      ['lost_claim: job is PROCESSING', 'complete', DUPLICATE],
    ],
  ])('%s', (_, claims, found, expected) => {
    const requests = claims.map((c) => request(c));
    const { plan, results } = planned(requests, found.map(job));

    expect(uniqueRequests(requests)).toHaveLength(found.length);
    expect(results.map(shown)).toEqual(expected);
    results.forEach((r, i) => expect(r.request).toBe(requests[i]));
    expect(plan.writes).toHaveLength(1);
    expect(plan.writes[0].claimToken).toBe(claims[expected.indexOf('complete')]);
  });

  it.each<[string, ValuationRequest[], number[]]>([
    ['different jobs are all kept', [request(null, 'S1'), request(null, 'S2')], [0, 1]],
    ['one key under two claims: both kept', [request('c0'), request('c1')], [0, 1]],
    [
      'the first of each copy is kept, in order',
      [request('c1'), request(), request('c1'), request()],
      [0, 1],
    ],
  ])('uniqueRequests: %s', (_, requests, kept) => {
    expect(uniqueRequests(requests)).toEqual(kept.map((i) => requests[i]));
  });

  it('refuses job states that do not match the unique requests', () => {
    expect(() => planAttempts([request(), request()], [job(), job()], retrying())).toThrow(
      'expected one job state per unique request, got 2',
    );
  });
});

describe('planAttempts: missing data by policy', () => {
  const MISSING_PRICE = `no market price for SEC1 on or before ${VALUATION_DATE}`;
  // USD → CHF: the key sorts the pair, whichever way the rate was looked for.
  const MISSING_FX = `no FX rate USD/CHF on or before ${VALUATION_DATE}`;
  const missingPrice = valuationInput({ price: null });
  const missingFx = valuationInput({ baseCurrency: 'CHF' });

  type Expected = Omit<JobTransition, 'waitingOn'> & { waitingOnKey: string | null };
  const transition = (
    status: JobTransition['status'],
    attemptCount: number,
    failureReason: string,
    delaySeconds: number | null,
    waitingOnKey: string | null,
    outcome: JobTransition['outcome'],
  ): Expected => ({ status, attemptCount, failureReason, delaySeconds, waitingOnKey, outcome });

  it.each<[string, JobFailurePolicy, ValuationInput, number, string, Expected]>([
    [
      'retrying, missing price',
      retrying(),
      missingPrice,
      0,
      MISSING_PRICE,
      transition('PENDING', 1, MISSING_PRICE, 600, 'PRICE:SEC1', 'retry_scheduled'),
    ],
    [
      'retrying, missing price again: a longer backoff',
      retrying(),
      missingPrice,
      2,
      MISSING_PRICE,
      transition('PENDING', 3, MISSING_PRICE, 2400, 'PRICE:SEC1', 'retry_scheduled'),
    ],
    [
      'retrying, missing FX',
      retrying(),
      missingFx,
      0,
      MISSING_FX,
      transition('PENDING', 1, MISSING_FX, 600, 'FX:CHF/USD', 'retry_scheduled'),
    ],
    [
      'retrying, missing price at the last attempt',
      retrying(3),
      missingPrice,
      2,
      MISSING_PRICE,
      transition('FAILED', 3, `retries exhausted: ${MISSING_PRICE}`, null, null, 'failed'),
    ],
    [
      'legacy, missing price',
      legacy,
      missingPrice,
      0,
      MISSING_PRICE,
      transition('COMPLETE', 1, MISSING_PRICE, null, null, 'complete'),
    ],
    [
      'legacy, missing FX',
      legacy,
      missingFx,
      4,
      MISSING_FX,
      transition('COMPLETE', 5, MISSING_FX, null, null, 'complete'),
    ],
  ])('%s', (_, policy, input, attemptCount, missing, expected) => {
    const { plan, results } = planned([request()], [job({ input, attemptCount })], policy);
    const [write] = plan.writes;

    // The wait is checked in its stored form.
    expect({ ...write.transition, waitingOnKey: write.waitingOnKey }).toMatchObject(expected);
    // Every policy stores the FAILED snapshot of the attempt, with what was missing.
    expect(write.snapshot).toMatchObject({ valuationStatus: 'FAILED', failureReason: missing });
    expect(results.map(shown)).toEqual([`${expected.outcome}: ${expected.failureReason}`]);
  });
});

describe('planAttempts: what a valued or settled job writes', () => {
  it.each<[string, ValuationInput, number, JobTransition['status'], string, string | null]>([
    ['valued on the day', valuationInput(), 0, 'COMPLETE', 'complete', 'VALUED_CURRENT'],
    [
      'valued on an older price',
      valuationInput({ price: { price: '120', priceDate: '2024-01-04', currency: 'USD' } }),
      2,
      'COMPLETE',
      'complete',
      'VALUED_STALE',
    ],
    ['superseded', valuationInput({ currentEpoch: 3 }), 0, 'SKIPPED_SUPERSEDED', 'skipped_superseded', null],
    [
      'no position',
      valuationInput({ position: null }),
      0,
      'SKIPPED_NO_POSITION',
      'skipped_no_position',
      null,
    ],
    ['invalid data', valuationInput({ baseCurrency: null }), 1, 'FAILED', 'failed', 'FAILED'],
  ])('%s', (_, input, attemptCount, status, outcome, snapshotStatus) => {
    const { plan, results } = planned([request()], [job({ input, attemptCount })]);
    const [write] = plan.writes;

    expect(write.transition).toMatchObject({ status, outcome, delaySeconds: null, waitingOn: null });
    expect(write.transition.attemptCount).toBe(outcome === 'failed' ? attemptCount + 1 : attemptCount);
    expect(write.waitingOnKey).toBeNull();
    expect(write.snapshot?.valuationStatus ?? null).toBe(snapshotStatus);
    expect(results[0].outcome).toBe(outcome);
  });

  it('carries the valued snapshot, amounts exact', () => {
    const [write] = planned([request()], [job()]).plan.writes;
    const amount = (d: Dec | null) => (d === null ? null : formatAmount(d));
    const s = write.snapshot!;

    expect({
      quantity: amount(s.quantity),
      costBasis: amount(s.costBasis),
      marketPrice: amount(s.marketPrice),
      marketValue: amount(s.marketValue),
      marketValueLocal: amount(s.marketValueLocal),
      unrealizedGainLoss: amount(s.unrealizedGainLoss),
      unrealizedGainLossLocal: amount(s.unrealizedGainLossLocal),
      failureReason: s.failureReason,
    }).toEqual({
      quantity: '100.0000000000',
      costBasis: '10000.0000000000',
      marketPrice: '120.0000000000',
      marketValue: '12000.0000000000',
      marketValueLocal: '12000.0000000000',
      unrealizedGainLoss: '2000.0000000000',
      unrealizedGainLossLocal: '2000.0000000000',
      failureReason: null,
    });
  });

  it.each<[string, string | null, string]>([
    ['the request’s correlation id', 'msg-corr', 'msg-corr'],
    ['the job’s correlation id when the request has none', null, 'job-corr'],
  ])('writes %s', (_, fromRequest, written) => {
    const [write] = planned([request(null, 'SEC1', fromRequest)], [job()]).plan.writes;
    expect(write.correlationId).toBe(written);
  });
});

describe('settleAttempts: what the write did not finish lost its claim', () => {
  // SEC1 and SEC2 are attempted, SEC3 is already COMPLETE, and SEC1 comes twice.
  const requests = [
    request(null, 'SEC1'),
    request(null, 'SEC2'),
    request('c1', 'SEC3'),
    request(null, 'SEC1'),
  ];
  const jobs = [job({ jobId: '1' }), job({ jobId: '2' }), job({ jobId: '3', status: 'COMPLETE' })];
  const plan = planAttempts(requests, jobs, retrying());
  const LOST = 'lost_claim: claim no longer held';
  const UNCHANGED = ['lost_claim: job is COMPLETE', 'lost_claim: duplicate in batch'];

  it.each<[string, string[], string[]]>([
    ['every attempt finished', ['1', '2'], ['complete', 'complete', ...UNCHANGED]],
    ['one attempt re-claimed between the read and the write', ['2'], [LOST, 'complete', ...UNCHANGED]],
    ['no attempt finished', [], [LOST, LOST, ...UNCHANGED]],
  ])('%s', (_, finished, expected) => {
    const results = settleAttempts(plan, new Set(finished));

    expect(results.map(shown)).toEqual(expected);
    results.forEach((r, i) => expect(r.request).toBe(requests[i]));
    expect(results.map((r) => r.jobId)).toEqual(['1', '2', '3', null]);
  });

  it('plans one write per attempted job', () => {
    expect(plan.writes.map((w) => w.jobId)).toEqual(['1', '2']);
  });
});
