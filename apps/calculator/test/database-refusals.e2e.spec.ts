import { INestApplication } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import { Client } from 'pg';
import { AppConfig } from '@app/config';
import { connectTestDb, eventually, resetTables, seed } from '../../../test/support/database';
import { startCalculator, TestKafka } from '../../../test/support/calculator-app';

const DAY = '2024-03-01';
const required = (portfolioId: string) => ({
  key: 'one-partition',
  value: JSON.stringify({ portfolio_id: portfolioId, security_id: 'S1', valuation_date: DAY, epoch: 0 }),
});
const letters = (messages: KafkaMessage[]) =>
  messages.map((m) => JSON.parse(m.value!.toString()) as { offset: string; error: string; value: string });

/**
 * The safety net behind validation: a value that passes the payload schema but that the database
 * refuses. Here the refusals come from CHECK constraints an upstream team might add (each spec drops
 * its own again); the calculator must send just the refused message to the DLQ with the database's
 * reason, apply the rest of the chunk, and commit.
 */
describe('calculator: values the database refuses (real broker and database)', () => {
  let db: Client;
  let app: INestApplication;
  let config: AppConfig;
  let url: string;
  let kafka: TestKafka;
  let deadLetters: KafkaMessage[];

  beforeAll(async () => {
    db = await connectTestDb();
    await resetTables(db);
    ({ app, config, url } = await startCalculator('refusals', {
      KAFKA_TOPIC_PARTITIONS: '1',
      CALCULATOR_STALL_SECONDS: '1',
    }));
    kafka = new TestKafka(config);
    await kafka.connect();
    deadLetters = await kafka.collect(config.kafka.topics.dlq);
    await seed.instrument(db, 'S1', 'USD');
    await seed.price(db, 'S1', DAY, '10', 'USD');
  });
  afterAll(async () => {
    await db.query('ALTER TABLE daily_position_snapshots DROP CONSTRAINT IF EXISTS spec_refused_portfolio');
    await db.query('ALTER TABLE valuation_triggers DROP CONSTRAINT IF EXISTS spec_refused_date');
    await kafka.close();
    await app.close();
    await db.end();
  });

  it('dead-letters the one valuation the database refuses and applies the rest of its chunk', async () => {
    const portfolios = Array.from({ length: 9 }, (_, i) => `P${i}`);
    for (const p of portfolios) {
      await seed.portfolio(db, p, 'USD');
      await seed.position(db, {
        portfolioId: p,
        securityId: 'S1',
        date: DAY,
        quantity: '3',
        costBasis: '20',
        costBasisLocal: '20',
      });
      await seed.positionState(db, p, 'S1');
      await seed.job(db, p, 'S1', DAY);
    }
    await db.query(
      `ALTER TABLE daily_position_snapshots ADD CONSTRAINT spec_refused_portfolio CHECK (portfolio_id <> 'P5') NOT VALID`,
    );
    await kafka.send(config.kafka.topics.valuationRequired, portfolios.map(required));

    await eventually(async () => (deadLetters.length >= 1 ? true : undefined), 20000, 'a dead letter');
    const { rows } = await db.query<{ portfolio_id: string; status: string }>(
      `SELECT portfolio_id, status FROM portfolio_valuation_jobs ORDER BY portfolio_id`,
    );
    expect(rows.filter((r) => r.status === 'COMPLETE').map((r) => r.portfolio_id)).toEqual(
      portfolios.filter((p) => p !== 'P5'),
    );
    expect(rows.find((r) => r.portfolio_id === 'P5')?.status).toBe('PENDING');
    const [letter] = letters(deadLetters);
    expect(deadLetters).toHaveLength(1);
    expect(JSON.parse(letter.value)).toMatchObject({ portfolio_id: 'P5' });
    expect(letter.offset).toBe('5');
    expect(letter.error).toMatch(/the database refused a value \(SQLSTATE 23514\).*spec_refused_portfolio/);
    // Committed past the whole chunk: the next message is consumed, not the chunk again.
    await kafka.send(config.kafka.topics.valuationRequired, [required('P-none')]);
    await eventually(async () => (deadLetters.length >= 2 ? true : undefined), 20000, 'the next letter');
    expect(letters(deadLetters)[1]).toMatchObject({
      offset: '9',
      error: expect.stringMatching(/unknown job/),
    });
  });

  it('dead-letters the one price arrival the database refuses and records the others', async () => {
    await db.query(
      `ALTER TABLE valuation_triggers ADD CONSTRAINT spec_refused_date CHECK (effective_date < '3000-01-01') NOT VALID`,
    );
    const before = deadLetters.length;
    const price = (date: string) => ({
      key: 'S1',
      value: JSON.stringify({ security_id: 'S1', price_date: date, price: '11', currency: 'USD' }),
    });
    await kafka.send(config.kafka.topics.marketPricePersisted, [
      price('2024-03-04'),
      price('3500-01-01'),
      price('2024-03-05'),
    ]);
    await eventually(async () => (deadLetters.length > before ? true : undefined), 20000, 'a dead letter');
    const { rows } = await db.query<{ d: string }>(
      `SELECT to_char(effective_date, 'YYYY-MM-DD') AS d FROM valuation_triggers WHERE kind = 'PRICE' ORDER BY 1`,
    );
    expect(rows.map((r) => r.d)).toEqual(['2024-03-04', '2024-03-05']);
    const letter = letters(deadLetters)[before];
    expect(letter).toMatchObject({ offset: '1', error: expect.stringMatching(/SQLSTATE 23514/) });
  });

  it('reports a partition that cannot advance: readiness 503 and the stalled-partition gauge', async () => {
    const stalledGauge = async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) =>
          l.startsWith(
            `valuation_consumer_stalled_partitions{topic="${config.kafka.topics.valuationRequired}"}`,
          ),
        );
      return Number(line?.split(' ').pop());
    };
    expect(await stalledGauge()).toBe(0);
    await seed.portfolio(db, 'P-late', 'USD');
    await seed.position(db, {
      portfolioId: 'P-late',
      securityId: 'S1',
      date: DAY,
      quantity: '1',
      costBasis: '1',
      costBasisLocal: '1',
    });
    await seed.positionState(db, 'P-late', 'S1');
    await seed.job(db, 'P-late', 'S1', DAY);
    // Another session holds the job table: the chunk can neither finish nor be refused.
    const blocker = await connectTestDb();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE portfolio_valuation_jobs IN ACCESS EXCLUSIVE MODE');
      await kafka.send(config.kafka.topics.valuationRequired, [required('P-late')]);
      const ready = await eventually(
        async () => {
          const res = await fetch(`${url}/health/ready`);
          return res.status === 503 ? ((await res.json()) as { checks: Record<string, string> }) : undefined;
        },
        20000,
        'readiness to report the stalled partition',
      );
      expect(ready.checks.consumer).toBe('down');
      expect(await stalledGauge()).toBe(1);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    await eventually(
      async () => ((await fetch(`${url}/health/ready`)).status === 200 ? true : undefined),
      30000,
      'readiness to recover once the partition advances',
    );
    expect(await stalledGauge()).toBe(0);
    const { rows } = await db.query(
      `SELECT status FROM portfolio_valuation_jobs WHERE portfolio_id = 'P-late'`,
    );
    expect(rows[0].status).toBe('COMPLETE');
  });
});
