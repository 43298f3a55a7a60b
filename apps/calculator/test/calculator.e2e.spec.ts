import { randomBytes } from 'node:crypto';
import { INestApplication } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import { Client } from 'pg';
import { AppConfig } from '@app/config';
import { parseSnapshotPersisted } from '@app/messaging';
import { connectTestDb, eventually, resetTables, seed } from '../../../test/support/database';
import { startCalculator, TestKafka } from '../../../test/support/calculator-app';

/** Contract §3's worked examples, one portfolio and security each, valued through the real topic. */
const EXAMPLES = [
  {
    id: 'same',
    qty: '100',
    price: '120',
    pxCcy: 'USD',
    instr: 'USD',
    base: 'USD',
    cost: ['10000', '10000'],
    fx: [],
    mv: ['12000', '12000'],
    ugl: ['2000', '2000'],
  },
  {
    id: 'fx',
    qty: '100',
    price: '120',
    pxCcy: 'EUR',
    instr: 'EUR',
    base: 'USD',
    cost: ['11000', '10000'],
    fx: [['EUR', 'USD', '1.2']],
    mv: ['12000', '14400'],
    ugl: ['2000', '3400'],
  },
  {
    id: 'loss',
    qty: '100',
    price: '95',
    pxCcy: 'EUR',
    instr: 'EUR',
    base: 'USD',
    cost: ['11000', '10000'],
    fx: [['EUR', 'USD', '1.05']],
    mv: ['9500', '9975'],
    ugl: ['-500', '-1025'],
  },
  {
    id: 'quote',
    qty: '200',
    price: '110',
    pxCcy: 'USD',
    instr: 'EUR',
    base: 'CHF',
    cost: ['22000', '20000'],
    fx: [
      ['USD', 'EUR', '0.9'],
      ['EUR', 'CHF', '0.95'],
    ],
    mv: ['19800', '18810'],
    ugl: ['-200', '-3190'],
  },
  {
    id: 'inverse',
    qty: '10',
    price: '50',
    pxCcy: 'GBP',
    instr: 'GBP',
    base: 'USD',
    cost: ['600', '500'],
    fx: [['USD', 'GBP', '0.8']],
    mv: ['500', '625'],
    ugl: ['0', '25'],
  },
];
const DAY = '2024-03-01';
const n = (v: string) => `${v}.0000000000`.replace(/^(-?\d+)\.0000000000$/, '$1.0000000000');

const required = (portfolioId: string, securityId: string, date = DAY) => ({
  key: portfolioId,
  value: JSON.stringify({
    portfolio_id: portfolioId,
    security_id: securityId,
    valuation_date: date,
    epoch: 0,
  }),
});

async function arrangeExamples(db: Client) {
  for (const e of EXAMPLES) {
    await seed.portfolio(db, `P-${e.id}`, e.base);
    await seed.instrument(db, `S-${e.id}`, e.instr);
    await seed.price(db, `S-${e.id}`, DAY, e.price, e.pxCcy);
    await seed.position(db, {
      portfolioId: `P-${e.id}`,
      securityId: `S-${e.id}`,
      date: '2024-02-01',
      quantity: e.qty,
      costBasis: e.cost[0],
      costBasisLocal: e.cost[1],
    });
    await seed.positionState(db, `P-${e.id}`, `S-${e.id}`);
  }
  // Each pair once (the examples share EUR/USD at different rates, so keep them on their own dates).
  await seed.fx(db, 'USD', 'EUR', DAY, '0.9');
  await seed.fx(db, 'EUR', 'CHF', DAY, '0.95');
  await seed.fx(db, 'USD', 'GBP', DAY, '0.8');
}

async function jobOf(db: Client, portfolioId: string, date = DAY) {
  const { rows } = await db.query(
    `SELECT status, attempt_count, failure_reason, waiting_on, next_attempt_at <= now() AS due,
            EXTRACT(EPOCH FROM (next_attempt_at - now()))::float AS due_in
       FROM portfolio_valuation_jobs WHERE portfolio_id = $1 AND valuation_date = $2`,
    [portfolioId, date],
  );
  return rows[0];
}

const settled = (db: Client, portfolioIds: string[], status = 'COMPLETE') =>
  eventually(
    async () => {
      const { rows } = await db.query(
        `SELECT count(*)::int AS n FROM portfolio_valuation_jobs WHERE portfolio_id = ANY($1) AND status = $2`,
        [portfolioIds, status],
      );
      return rows[0].n === portfolioIds.length ? true : undefined;
    },
    20000,
    `${portfolioIds.join(',')} ${status}`,
  );

describe('calculator (real broker and database)', () => {
  let db: Client;
  let app: INestApplication;
  let config: AppConfig;
  let url: string;
  let kafka: TestKafka;
  let snapshotsOut: KafkaMessage[];
  let deadLetters: KafkaMessage[];

  beforeAll(async () => {
    db = await connectTestDb();
    await resetTables(db);
    ({ app, config, url } = await startCalculator('calc', { VALUATION_RETRY_BACKOFF_SECONDS: '30' }));
    kafka = new TestKafka(config);
    await kafka.connect();
    snapshotsOut = await kafka.collect(config.kafka.topics.snapshotPersisted);
    deadLetters = await kafka.collect(config.kafka.topics.dlq);
  });
  afterAll(async () => {
    await kafka.close();
    await app.close();
    await db.end();
  });

  it('values every worked example of contract §3 exactly, and emits one snapshot event each', async () => {
    await arrangeExamples(db);
    // EUR/USD differs between two examples: give each its own dated rate.
    await seed.fx(db, 'EUR', 'USD', '2024-02-29', '1.2');
    await db.query(`UPDATE market_prices SET price_date = '2024-02-29' WHERE security_id = 'S-fx'`);
    await seed.fx(db, 'EUR', 'USD', DAY, '1.05');
    for (const e of EXAMPLES)
      await seed.job(db, `P-${e.id}`, `S-${e.id}`, e.id === 'fx' ? '2024-02-29' : DAY);
    await kafka.send(
      config.kafka.topics.valuationRequired,
      EXAMPLES.map((e) => required(`P-${e.id}`, `S-${e.id}`, e.id === 'fx' ? '2024-02-29' : DAY)),
    );
    await settled(
      db,
      EXAMPLES.map((e) => `P-${e.id}`),
    );

    for (const e of EXAMPLES) {
      const { rows } = await db.query(`SELECT * FROM daily_position_snapshots WHERE portfolio_id = $1`, [
        `P-${e.id}`,
      ]);
      expect({ example: e.id, ...rows[0] }).toMatchObject({
        example: e.id,
        valuation_status: 'VALUED_CURRENT',
        quantity: n(e.qty),
        market_value_local: n(e.mv[0]),
        market_value: n(e.mv[1]),
        unrealized_gain_loss_local: n(e.ugl[0]),
        unrealized_gain_loss: n(e.ugl[1]),
      });
    }
    await eventually(
      async () => (snapshotsOut.length >= EXAMPLES.length ? true : undefined),
      10000,
      'snapshot events',
    );
    const events = snapshotsOut.map((m) => JSON.parse(m.value!.toString()));
    expect(events.map((e) => e.portfolio_id).sort()).toEqual(EXAMPLES.map((e) => `P-${e.id}`).sort());
    expect(events[0]).toEqual({
      id: expect.any(Number),
      portfolio_id: expect.any(String),
      security_id: expect.any(String),
      date: expect.stringMatching(/^2024-0[23]-/),
      epoch: 0,
      valuation_status: 'VALUED_CURRENT',
    });
    // Every event meets its contract and carries nothing more (parsing would drop an extra field).
    expect(snapshotsOut.map((m) => parseSnapshotPersisted(m.value))).toEqual(events);
  });

  it('keeps a job missing its FX rate PENDING with a backoff, and makes it due when the rate arrives', async () => {
    await seed.portfolio(db, 'P-late', 'USD');
    await seed.instrument(db, 'S-late', 'JPY');
    await seed.price(db, 'S-late', DAY, '1500', 'JPY');
    await seed.position(db, {
      portfolioId: 'P-late',
      securityId: 'S-late',
      date: DAY,
      quantity: '10',
      costBasis: '100',
      costBasisLocal: '15000',
    });
    await seed.job(db, 'P-late', 'S-late', DAY);
    await kafka.send(config.kafka.topics.valuationRequired, [required('P-late', 'S-late')]);
    await eventually(async () => ((await jobOf(db, 'P-late')).attempt_count === 1 ? true : undefined));

    const waiting = await jobOf(db, 'P-late');
    expect(waiting).toMatchObject({
      status: 'PENDING',
      attempt_count: 1,
      waiting_on: 'FX:JPY/USD',
      due: false,
    });
    expect(waiting.failure_reason).toContain('JPY/USD');
    expect(waiting.due_in).toBeGreaterThan(25);
    expect(waiting.due_in).toBeLessThanOrEqual(33);
    const { rows: snaps } = await db.query(
      `SELECT valuation_status FROM daily_position_snapshots WHERE portfolio_id = 'P-late'`,
    );
    expect(snaps).toEqual([{ valuation_status: 'FAILED' }]);

    await seed.fx(db, 'USD', 'JPY', DAY, '150');
    await kafka.send(config.kafka.topics.fxRatePersisted, [
      {
        key: 'USD/JPY',
        value: JSON.stringify({ from_currency: 'USD', to_currency: 'JPY', rate_date: DAY, rate: '150' }),
      },
    ]);
    await eventually(async () => ((await jobOf(db, 'P-late')).due ? true : undefined), 10000, 'wake-up');
    const { rows: triggers } = await db.query(
      `SELECT kind, from_currency, to_currency, to_char(effective_date, 'YYYY-MM-DD') AS d FROM valuation_triggers`,
    );
    expect(triggers).toEqual([{ kind: 'FX', from_currency: 'USD', to_currency: 'JPY', d: DAY }]);

    // The retry (here a claimless re-request) now values it; attempt_count keeps its history.
    await kafka.send(config.kafka.topics.valuationRequired, [required('P-late', 'S-late')]);
    await settled(db, ['P-late']);
    expect(await jobOf(db, 'P-late')).toMatchObject({
      status: 'COMPLETE',
      attempt_count: 1,
      failure_reason: null,
    });
    const { rows } = await db.query(
      `SELECT market_value FROM daily_position_snapshots WHERE portfolio_id = 'P-late'`,
    );
    expect(rows).toEqual([{ market_value: '100.0000000000' }]);
  });

  it('applies a job delivered twice once: one snapshot event', async () => {
    await seed.portfolio(db, 'P-dup', 'USD');
    await seed.instrument(db, 'S-dup', 'USD');
    await seed.price(db, 'S-dup', DAY, '10', 'USD');
    await seed.position(db, {
      portfolioId: 'P-dup',
      securityId: 'S-dup',
      date: DAY,
      quantity: '3',
      costBasis: '27',
      costBasisLocal: '27',
    });
    await seed.job(db, 'P-dup', 'S-dup', DAY);
    await kafka.send(config.kafka.topics.valuationRequired, [required('P-dup', 'S-dup')]);
    await kafka.send(config.kafka.topics.valuationRequired, [required('P-dup', 'S-dup')]);
    await settled(db, ['P-dup']);
    await eventually(async () =>
      snapshotsOut.some((m) => m.key?.toString() === 'P-dup') ? true : undefined,
    );
    // Give a second event every chance to appear before counting.
    await new Promise((r) => setTimeout(r, 1500));
    expect(snapshotsOut.filter((m) => m.key?.toString() === 'P-dup')).toHaveLength(1);
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM valuation_outbox WHERE message_key = 'P-dup'`,
    );
    expect(rows[0].n).toBe(1);
  });

  it('sends a poison message to the DLQ and keeps the partition flowing', async () => {
    await seed.portfolio(db, 'P-poison', 'USD');
    await seed.instrument(db, 'S-poison', 'USD');
    await seed.price(db, 'S-poison', '2024-02-01', '10', 'USD');
    await seed.position(db, {
      portfolioId: 'P-poison',
      securityId: 'S-poison',
      date: '2024-02-01',
      quantity: '1',
      costBasis: '5',
      costBasisLocal: '5',
    });
    for (const d of ['2024-02-28', DAY]) await seed.job(db, 'P-poison', 'S-poison', d);
    const bad = [
      { key: 'P-poison', value: 'not json {' },
      {
        key: 'P-poison',
        value: JSON.stringify({
          portfolio_id: 'P-poison',
          security_id: 'S-poison',
          valuation_date: '2024-02-30',
          epoch: 0,
        }),
      },
      { key: 'P-poison', value: JSON.stringify({ portfolio_id: 'P-poison', valuation_date: DAY, epoch: 0 }) },
      {
        key: 'P-poison',
        value: JSON.stringify({
          portfolio_id: 'P-poison',
          security_id: 'NOPE',
          valuation_date: DAY,
          epoch: 0,
        }),
      },
    ];
    await kafka.send(config.kafka.topics.valuationRequired, [
      required('P-poison', 'S-poison', '2024-02-28'),
      ...bad,
      required('P-poison', 'S-poison', DAY),
    ]);
    await eventually(
      async () => (deadLetters.length >= bad.length ? true : undefined),
      15000,
      'dead letters',
    );
    const letters = deadLetters.map((m) => JSON.parse(m.value!.toString()));
    expect(letters.map((l) => l.error)).toEqual([
      'value is not JSON',
      'valuation_date: must be a real calendar date',
      'security_id: Invalid input: expected string, received undefined',
      'unknown job: no job with this key',
    ]);
    expect(letters[0]).toMatchObject({
      topic: config.kafka.topics.valuationRequired,
      key: 'P-poison',
      value: 'not json {',
      offset: expect.any(String),
      partition: expect.any(Number),
      failed_at: expect.any(String),
    });
    const { rows } = await db.query(
      `SELECT count(*)::int AS n FROM portfolio_valuation_jobs WHERE portfolio_id = 'P-poison' AND status = 'COMPLETE'`,
    );
    expect(rows[0].n).toBe(2);
  });

  it('serves health and the calculator metrics', async () => {
    const ready = await fetch(`${url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'up',
      checks: { database: 'up', kafka: 'up', consumer: 'up' },
    });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/valuation_jobs_processed_total\{outcome="complete"\} \d+/);
    expect(metrics).toMatch(/valuation_jobs_processed_total\{outcome="retry_scheduled"\} 1/);
    expect(metrics).toMatch(/valuation_messages_dead_lettered_total\{topic="[^"]+valuation_required"\} 4/);
    expect(metrics).toContain('valuation_job_duration_seconds_bucket');
  });

  it('dead-letters a message near the broker size limit, cut to fit, and keeps its partition moving', async () => {
    // 1 MB of garbage bytes: as UTF-8 text in a letter it would be about 3 MB, which the broker refuses.
    await seed.job(db, 'P-same', 'S-same', '2024-03-04');
    await kafka.send(config.kafka.topics.valuationRequired, [
      { key: 'P-same', value: randomBytes(1_000_000) },
      required('P-same', 'S-same', '2024-03-04'),
    ]);
    const letter = await eventually(
      async () =>
        deadLetters
          .map((m) => JSON.parse(m.value!.toString()))
          .find((l) => String(l.error).includes('truncated')),
      20000,
      'the dead letter of the huge message',
    );
    expect(letter.error).toBe('value is not JSON (value truncated: the message is 1000000 bytes)');
    expect(Buffer.byteLength(letter.value)).toBeLessThanOrEqual(64 * 1024);
    expect((await jobOf(db, 'P-same', '2024-03-04')).status).toBe('COMPLETE');
  });
});
