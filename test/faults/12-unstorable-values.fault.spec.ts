import { FaultScenario } from './support/fault-harness';
import { json } from './support/poison';

const PARTITIONS = 6;
const DAY = '2024-06-03';

interface Unstorable {
  topic: 'valuationRequired' | 'marketPricePersisted' | 'fxRatePersisted';
  what: string;
  value: string;
  /** What the dead letter's reason must say. */
  reason: RegExp;
}

const job = { portfolio_id: 'PF00001', security_id: 'SEC0001', valuation_date: DAY, epoch: 0 };
const price = { security_id: 'SEC0001', price_date: DAY, price: '101.25', currency: 'USD' };
const rate = { from_currency: 'EUR', to_currency: 'USD', rate_date: DAY, rate: '1.0825' };

/**
 * Well-formed JSON of the right shape whose values PostgreSQL cannot store: validation must refuse
 * each. The last one passes validation on purpose: a CHECK constraint (as an upstream team might add)
 * refuses it, so only the calculator's safety net (bisecting the chunk on a data error) can isolate it.
 */
const UNSTORABLE: Unstorable[] = [
  {
    topic: 'valuationRequired',
    what: 'year 0',
    value: json({ ...job, valuation_date: '0000-01-01' }),
    reason: /valuation_date/,
  },
  {
    topic: 'valuationRequired',
    what: 'NUL in portfolio_id',
    value: json({ ...job, portfolio_id: 'PF\u000000001' }),
    reason: /portfolio_id: must not contain/,
  },
  {
    topic: 'valuationRequired',
    what: 'NUL in correlation_id',
    value: json({ ...job, correlation_id: 'c\u0000' }),
    reason: /correlation_id: must not contain/,
  },
  {
    topic: 'valuationRequired',
    what: 'control character in security_id',
    value: json({ ...job, security_id: 'SEC\u00070001' }),
    reason: /security_id: must not contain/,
  },
  {
    topic: 'valuationRequired',
    what: 'job_id beyond bigint',
    value: json({ ...job, job_id: '99999999999999999999' }),
    reason: /job_id/,
  },
  {
    topic: 'marketPricePersisted',
    what: 'price dated year 0',
    value: json({ ...price, price_date: '0000-01-01' }),
    reason: /price_date/,
  },
  {
    topic: 'marketPricePersisted',
    what: 'price of 1e400',
    value: json({ ...price, price: '1e400' }),
    reason: /price: is too large/,
  },
  {
    topic: 'marketPricePersisted',
    what: 'NUL in security_id',
    value: json({ ...price, security_id: '\u0000' }),
    reason: /security_id: must not contain/,
  },
  {
    topic: 'marketPricePersisted',
    what: 'refused by a CHECK constraint',
    value: json({ ...price, price_date: '2950-01-02' }),
    reason: /SQLSTATE 23514/,
  },
  {
    topic: 'fxRatePersisted',
    what: 'rate dated year 0',
    value: json({ ...rate, rate_date: '0000-01-01' }),
    reason: /rate_date/,
  },
  {
    topic: 'fxRatePersisted',
    what: 'rate of 1e400',
    value: json({ ...rate, rate: '1e400' }),
    reason: /rate: is too large/,
  },
];

/**
 * Scenario 12: values that look plausible but that PostgreSQL refuses, each published once on every
 * partition of its input topic and each followed on that partition by a valid message. Every bad one
 * lands in the DLQ with its reason, every valid one is applied, every partition is committed to its
 * end, and no calculator crashes, restarts its consumer or reports a stalled partition.
 */
describe('fault 12: values the database cannot store, on every partition', () => {
  let s: FaultScenario;

  beforeAll(async () => {
    s = await FaultScenario.open('fault 12: values the database cannot store', {
      KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
      CALCULATOR_STALL_SECONDS: '20',
    });
  });
  afterAll(() => s.close());

  it('dead-letters every unstorable value with a reason and applies every valid message behind it', async () => {
    // No scheduler: the valid jobs arrive as claimless messages, as an upstream service may send them.
    const calculators = await s.startCalculators(['calculator-1', 'calculator-2']);
    const perPartition = UNSTORABLE.filter((u) => u.topic === 'valuationRequired').length;
    const { jobs: total } = await s.seed({
      portfolios: PARTITIONS * perPartition,
      holdings: 1,
      securities: 10,
      days: 1,
    });
    await s.db.query(
      `ALTER TABLE valuation_triggers ADD CONSTRAINT faults_upstream_horizon CHECK (effective_date < '2900-01-01') NOT VALID`,
    );
    const { rows: good } = await s.db.query<{ portfolio_id: string; security_id: string; d: string }>(
      `SELECT portfolio_id, security_id, to_char(valuation_date, 'YYYY-MM-DD') AS d FROM portfolio_valuation_jobs ORDER BY id`,
    );
    const valid = {
      valuationRequired: () => {
        const j = good.shift()!;
        return json({
          portfolio_id: j.portfolio_id,
          security_id: j.security_id,
          valuation_date: j.d,
          epoch: 0,
        });
      },
      marketPricePersisted: () => json(price),
      fxRatePersisted: () => json(rate),
    };

    const expected = new Map<string, Unstorable>(); // "topic/partition/offset" → the bad value
    let validArrivals = 0;
    for (let partition = 0; partition < PARTITIONS; partition++)
      for (const bad of UNSTORABLE) {
        const topic = s.topics[bad.topic];
        const offsets = await s.kafka.sendReturningOffsets(topic, [
          { key: `bad-${partition}`, value: bad.value, partition },
          { key: `good-${partition}`, value: valid[bad.topic](), partition },
        ]);
        expected.set(`${topic}/${partition}/${offsets.get(partition)}`, bad);
        if (bad.topic !== 'valuationRequired') validArrivals += 1;
      }
    expect(good).toHaveLength(0);

    const drainedIn = await s.awaitInputsConsumed(total);
    const letters = await s.deadLetters();
    const origin = (l: { topic: string; partition: number; offset: string }) =>
      `${l.topic}/${l.partition}/${l.offset}`;
    const unexpected = letters.filter((l) => !expected.has(origin(l))).map((l) => `${origin(l)}: ${l.error}`);
    const missing = [...expected.keys()].filter((k) => !letters.some((l) => origin(l) === k));
    const wrongReason = letters
      .filter((l) => expected.has(origin(l)) && !expected.get(origin(l))!.reason.test(l.error))
      .map((l) => `${expected.get(origin(l))!.what}: ${l.error}`);
    const refusedByDatabase = letters.filter((l) => /SQLSTATE/.test(l.error));
    const triggers = await s.count(`SELECT count(*) AS n FROM valuation_triggers`);
    const ready = await Promise.all(
      calculators.map(async (c) => (await fetch(`${c.url}/health/ready`)).status),
    );
    const stalled = (await Promise.all(calculators.map(async (c) => (await c.metrics()).split('\n'))))
      .flat()
      .filter((l) => l.startsWith('valuation_consumer_stalled_partitions{'))
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    const crashes = calculators.flatMap((c) =>
      s.logLines(c, /consumer stopped for good|Crash: |Restarting the consumer/),
    );
    const { report, violations } = await s.invariants({ kind: 'one-per-snapshot' }, { jobs: total });

    Object.assign(s.figures, {
      'unstorable messages (kinds × partitions)': `${expected.size} (${UNSTORABLE.length} × ${PARTITIONS})`,
      'valid messages behind them (jobs / price and FX arrivals)': `${total} / ${validArrivals}`,
      'dead letters / refused by validation / refused by the database (bisected)': `${letters.length} / ${
        letters.length - refusedByDatabase.length
      } / ${refusedByDatabase.length}`,
      'a reason of each kind': UNSTORABLE.map(
        (u) =>
          `${u.what}: "${letters.find((l) => expected.get(origin(l)) === u)?.error.slice(0, 90) ?? 'none'}"`,
      ).join(' | '),
      'bad messages missing from the DLQ / unexpected letters / wrong reasons': `${missing.length} / ${unexpected.length} / ${wrongReason.length}`,
      'fan-out triggers recorded (valid arrivals)': triggers,
      'readiness of the calculators / stalled partitions / consumer crashes': `${ready.join(', ')} / ${stalled} / ${crashes.length}`,
      'all valid work applied and every partition at its end after': `${(drainedIn / 1000).toFixed(1)} s`,
    });
    s.print();

    expect(violations).toEqual([]);
    expect(report.byStatus).toEqual({ COMPLETE: total });
    expect(missing).toEqual([]);
    expect(unexpected).toEqual([]);
    expect(wrongReason).toEqual([]);
    expect(letters).toHaveLength(expected.size);
    expect(refusedByDatabase).toHaveLength(PARTITIONS);
    expect(triggers).toBe(validArrivals);
    expect(ready).toEqual([200, 200]);
    expect(stalled).toBe(0);
    expect(crashes).toEqual([]);
    expect(calculators.every((c) => c.running)).toBe(true);
  });
});
