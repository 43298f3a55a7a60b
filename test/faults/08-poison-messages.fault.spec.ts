import { FaultScenario } from './support/fault-harness';
import { json, POISON, produceLargestAccepted, type Poison } from './support/poison';

const PARTITIONS = 6;

/**
 * Scenario 8: a stream mixing valid jobs with poison on every input topic: garbage bytes, wrong types,
 * missing fields, impossible values, a ~1 MB payload, and keys of jobs that do not exist. Every bad
 * message lands in the DLQ (once, with its origin and reason), every good job completes, and every
 * partition is consumed to its end.
 */
describe('fault 8: poison and malformed input', () => {
  let s: FaultScenario;

  beforeAll(async () => {
    s = await FaultScenario.open('fault 8: poison and malformed input', {
      KAFKA_TOPIC_PARTITIONS: String(PARTITIONS),
    });
  });
  afterAll(() => s.close());

  it('dead-letters every bad message, completes every good job, and stalls no partition', async () => {
    // No scheduler: the good jobs arrive as claimless messages, as an upstream service may send them.
    const calculators = await s.startCalculators(['calculator-1', 'calculator-2']);
    const { jobs: total } = await s.seed({ portfolios: 40, holdings: 5, securities: 20, days: 2 });
    const { rows: good } = await s.db.query<{ portfolio_id: string; security_id: string; d: string }>(
      `SELECT portfolio_id, security_id, to_char(valuation_date, 'YYYY-MM-DD') AS d FROM portfolio_valuation_jobs ORDER BY id`,
    );

    const huge = [await produceLargestAccepted(s, 'json'), await produceLargestAccepted(s, 'garbage')];
    const expected = new Map<string, Poison>(); // "topic/partition/offset" → poison
    for (const h of huge) expected.set(`${s.topics.valuationRequired}/${h.partition}/${h.offset}`, h.poison);
    // Interleave: a slice of good jobs, then one poison message, on every partition in turn.
    const slice = Math.ceil(good.length / POISON.length);
    for (const [i, poison] of POISON.entries()) {
      const jobs = good.slice(i * slice, (i + 1) * slice);
      await s.kafka.send(
        s.topics.valuationRequired,
        jobs.map((j, k) => ({
          key: j.portfolio_id,
          partition: (i + k) % PARTITIONS,
          value: json({
            portfolio_id: j.portfolio_id,
            security_id: j.security_id,
            valuation_date: j.d,
            epoch: 0,
          }),
        })),
      );
      const partition = i % PARTITIONS;
      const topic = s.topics[poison.topic];
      const offsets = await s.kafka.sendReturningOffsets(topic, [
        { key: `poison-${i}`, value: poison.value, partition },
      ]);
      expected.set(`${topic}/${partition}/${offsets.get(partition)}`, poison);
    }

    const drainedIn = await s.awaitInputsConsumed(total);
    const letters = await s.deadLetters();
    const byOrigin = new Map<string, number>();
    for (const l of letters)
      byOrigin.set(
        `${l.topic}/${l.partition}/${l.offset}`,
        (byOrigin.get(`${l.topic}/${l.partition}/${l.offset}`) ?? 0) + 1,
      );
    const missing = [...expected.keys()].filter((k) => !byOrigin.has(k)).map((k) => expected.get(k)!.what);
    const wrongReason = letters
      .filter((l) => expected.has(`${l.topic}/${l.partition}/${l.offset}`))
      .filter((l) => !expected.get(`${l.topic}/${l.partition}/${l.offset}`)!.reason.test(l.error))
      .map((l) => `${expected.get(`${l.topic}/${l.partition}/${l.offset}`)!.what}: ${l.error}`);
    const deadLettered = (
      await Promise.all(
        calculators.map(async (c) =>
          (await c.metrics())
            .split('\n')
            .filter((l) => l.startsWith('valuation_messages_dead_lettered_total{')),
        ),
      )
    )
      .flat()
      .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
    const { report, violations } = await s.invariants({ kind: 'one-per-snapshot' }, { jobs: total });

    const hugeLetters = huge.map((h) => {
      const l = letters.find(
        (x) =>
          `${x.topic}/${x.partition}/${x.offset}` ===
          `${s.topics.valuationRequired}/${h.partition}/${h.offset}`,
      );
      return l
        ? `${h.poison.what}: ${Buffer.byteLength(JSON.stringify(l))}-byte letter, "${l.error}"`
        : `${h.poison.what}: none`;
    });
    Object.assign(s.figures, {
      'good jobs (claimless messages)': total,
      'bad messages (valuation_required / price / fx)': `${expected.size} (${[...expected.values()].filter((p) => p.topic === 'valuationRequired').length} / ${POISON.filter((p) => p.topic === 'marketPricePersisted').length} / ${POISON.filter((p) => p.topic === 'fxRatePersisted').length})`,
      'largest payloads the broker accepted': huge
        .map((h) => `${h.bytes} bytes${h.refused.length ? ` (refused: ${h.refused.join(', ')})` : ''}`)
        .join(', '),
      'their dead letters': hugeLetters.join(' | '),
      'dead letters / distinct origins / counted by the calculators': `${letters.length} / ${byOrigin.size} / ${deadLettered}`,
      'bad messages missing from the DLQ': missing.length ? missing.join(', ') : 0,
      'dead letters with an unexpected reason': wrongReason.length ? wrongReason.join(' | ') : 0,
      'all good jobs complete and all partitions at their end after': `${(drainedIn / 1000).toFixed(1)} s`,
    });
    s.print();

    expect(violations).toEqual([]);
    expect(report.byStatus).toEqual({ COMPLETE: total });
    expect(missing).toEqual([]);
    expect(wrongReason).toEqual([]);
    expect([...byOrigin.values()].every((n) => n === 1)).toBe(true);
    expect(byOrigin.size).toBe(expected.size);
  });
});

/**
 * When even the DLQ refuses a letter (here: a DLQ whose broker setting allows only 512 bytes), the
 * message cannot be dead-lettered, so its offset must not be committed, and the calculator must not
 * sit there alive and idle with its partitions stalled: it exits non-zero, to be restarted.
 */
describe('fault 8b: a dead letter the broker refuses', () => {
  let s: FaultScenario;

  beforeAll(async () => {
    s = await FaultScenario.open('fault 8b: a dead letter the broker refuses', {
      KAFKA_TOPIC_PARTITIONS: '1',
    });
  });
  afterAll(() => s.close());

  it('exits non-zero instead of consuming nothing, and commits nothing past the message', async () => {
    await s.kafka.createTopic(s.topics.dlq, 1, { 'max.message.bytes': '512' });
    const [calculator] = await s.startCalculators(['calculator-1']);
    const sentAt = Date.now();
    await s.kafka.send(s.topics.valuationRequired, [{ key: 'poison', value: 'x'.repeat(2048) }]);
    const exitMs = await s.waitFor(
      async () => (calculator.running ? undefined : Date.now() - sentAt),
      30000,
      'the calculator to exit',
    );
    const { lag } = await s.kafka.lag(s.group, [s.topics.valuationRequired]);
    const fatal = s.logLines(calculator, /consumer stopped for good/);

    Object.assign(s.figures, {
      'calculator exited after the refused letter': `${(exitMs / 1000).toFixed(1)} s, exit code ${calculator.exitCode}`,
      'its last log line': fatal[0]
        ? (JSON.parse(fatal[0]) as { message: string }).message.slice(0, 100)
        : 'none',
      'messages left uncommitted (delivered again on restart)': lag,
    });
    s.print();

    expect(calculator.exitCode).toBe(1);
    expect(fatal).toHaveLength(1);
    expect(lag).toBe(1);
  });
});
