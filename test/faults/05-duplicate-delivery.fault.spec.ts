import type { KafkaMessage } from 'kafkajs';
import { FaultScenario } from './support/fault-harness';

/**
 * Scenario 5: every job is delivered four times before any calculator runs (the scheduler's message,
 * two re-published copies of it, and a claimless copy as an upstream service might send), and then
 * the whole topic once more after the group's offsets were rewound to the start. Each job is still
 * valued exactly once: one snapshot, one outbox event, one event on the topic.
 */
describe('fault 5: duplicate delivery and a rewound consumer group', () => {
  let s: FaultScenario;

  beforeAll(async () => {
    s = await FaultScenario.open('fault 5: duplicate delivery and a rewound consumer group');
  });
  afterAll(() => s.close());

  const copies = (messages: KafkaMessage[], claimless = false) =>
    messages.map((m) => {
      const value = JSON.parse(String(m.value)) as Record<string, unknown>;
      if (claimless) delete value.claim_token;
      return { key: m.key ? String(m.key) : null, value: JSON.stringify(value) };
    });

  it('applies each job once, however often it is delivered', async () => {
    const scheduler = await s.start('scheduler', 'scheduler');
    const { jobs: total } = await s.seed({ portfolios: 100, holdings: 15, securities: 40, days: 2 });
    // No calculator yet: everything the scheduler dispatches waits on the topic. A job is PROCESSING
    // from its claim, before its message is acknowledged, so wait for the messages themselves.
    await s.waitFor(
      async () => {
        const ends = await s.kafka.endOffsets(s.topics.valuationRequired);
        return [...ends.values()].reduce((a, b) => a + b, 0n) >= BigInt(total) ? true : undefined;
      },
      30000,
      'every job to be dispatched',
    );
    const dispatched = await s.kafka.readTopic(s.topics.valuationRequired);
    expect(dispatched).toHaveLength(total);
    await s.kafka.send(s.topics.valuationRequired, copies(dispatched));
    await s.kafka.send(s.topics.valuationRequired, copies(dispatched));
    await s.kafka.send(s.topics.valuationRequired, copies(dispatched, true));
    const delivered = dispatched.length * 4;

    const first = await s.startCalculators(['calculator-1', 'calculator-2']);
    await s.awaitSettled(60000, (c) => c.COMPLETE === total);
    await s.waitFor(
      async () => ((await s.kafka.lag(s.group, [s.topics.valuationRequired])).lag === 0 ? true : undefined),
      30000,
      'the first calculators to commit every message',
    );
    const firstComplete = (await Promise.all(first.map((c) => s.processed(c, 'complete')))).reduce(
      (a, b) => a + b,
    );
    const firstLost = (await Promise.all(first.map((c) => s.processed(c, 'lost_claim')))).reduce(
      (a, b) => a + b,
    );
    const outboxBefore = await s.count(`SELECT count(*) AS n FROM valuation_outbox`);

    // Rewind: the group reads the whole topic again, as after an offset reset or a restore.
    await Promise.all(first.map((c) => c.stop('SIGTERM')));
    await s.kafka.rewind(s.group, s.topics.valuationRequired);
    const second = await s.startCalculators(['calculator-3', 'calculator-4']);
    await s.waitFor(
      async () => ((await s.kafka.lag(s.group, [s.topics.valuationRequired])).lag === 0 ? true : undefined),
      60000,
      'the rewound group to read the topic again',
    );
    const secondLost = (await Promise.all(second.map((c) => s.processed(c, 'lost_claim')))).reduce(
      (a, b) => a + b,
    );
    const secondComplete = (await Promise.all(second.map((c) => s.processed(c, 'complete')))).reduce(
      (a, b) => a + b,
    );
    const outboxAfter = await s.count(`SELECT count(*) AS n FROM valuation_outbox`);
    const { report, violations } = await s.invariants({ kind: 'one-per-snapshot' }, { jobs: total });
    await scheduler.stop('SIGTERM');

    Object.assign(s.figures, {
      jobs: total,
      'deliveries before the rewind (dispatched, 2 copies, 1 claimless)': delivered,
      'first calculators: complete / lost_claim': `${firstComplete} / ${firstLost}`,
      'deliveries after the rewind': delivered,
      'rewound calculators: complete / lost_claim': `${secondComplete} / ${secondLost}`,
      'outbox events before / after the rewind': `${outboxBefore} / ${outboxAfter}`,
    });
    s.print();

    expect(violations).toEqual([]);
    expect(report.byStatus).toEqual({ COMPLETE: total });
    expect([firstComplete, firstLost]).toEqual([total, delivered - total]);
    expect([secondComplete, secondLost]).toEqual([0, delivered]);
    expect(outboxAfter).toBe(outboxBefore);
  });
});
