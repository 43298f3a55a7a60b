import { Test, TestingModule } from '@nestjs/testing';
import { Client } from 'pg';
import type { IdempotentPublisher, OutgoingMessage } from '@app/messaging';
import { OutboxRepository, PersistenceModule } from '@app/persistence';
import { connectTestDb, resetTables, testDatabaseUrl } from '../../../../test/support/database';
import { OutboxRelay } from './outbox.relay';

/**
 * A producer stand-in that acknowledges every send and remembers what it got (the real broker's
 * deduplication of a re-sent batch is proven by the fault suite's broker restart).
 */
class RecordingPublisher {
  readonly sent: string[] = [];
  readonly attempts: string[][] = [];
  producersReplaced = 0;
  beforeAck: () => Promise<void> = async () => undefined;
  async publish(_topic: string, messages: OutgoingMessage[]): Promise<void> {
    this.attempts.push(messages.map((m) => m.value));
    await this.beforeAck();
    this.sent.push(...messages.map((m) => m.value));
  }
  async replaceProducer(): Promise<void> {
    this.producersReplaced++;
  }
}

/**
 * The database goes away for the relays (their connections dropped, new ones refused) and comes back.
 * Toggled from the `postgres` database: a session cannot refuse connections to its own database.
 */
async function setDatabaseUp(up: boolean): Promise<void> {
  const url = new URL(testDatabaseUrl());
  const name = url.pathname.slice(1);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`ALTER DATABASE "${name}" WITH ALLOW_CONNECTIONS ${up}`);
    if (!up)
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = $1 AND application_name = 'valuation-pipeline'`,
        [name],
      );
  } finally {
    await admin.end();
  }
}

describe('OutboxRelay (real database)', () => {
  let modules: TestingModule[];
  let db: Client;

  /** The outbox of one calculator: its own pool, as a separate process would have. */
  const repository = async () => {
    const module = await Test.createTestingModule({
      imports: [
        PersistenceModule.forRoot({
          connection: testDatabaseUrl(),
          poolSize: 2,
          jobPolicy: 'retrying',
          retry: { backoffSeconds: 600, backoffMultiplier: 1, backoffMaxSeconds: 21600, maxAttempts: 0 },
          snapshotTopic: 'snapshots',
        }),
      ],
    }).compile();
    modules.push(module);
    return module.get(OutboxRepository);
  };
  const relayWith = async (publisher: RecordingPublisher) =>
    new OutboxRelay(await repository(), publisher as unknown as IdempotentPublisher);

  const unpublished = async () =>
    (await db.query(`SELECT count(*)::int AS n FROM valuation_outbox WHERE published_at IS NULL`)).rows[0].n;

  /** Events with payload ids `from` … `from + n - 1`. */
  const addEvents = (n: number, from = 1) =>
    db.query(
      `INSERT INTO valuation_outbox (topic, message_key, payload)
       SELECT 'snapshots', 'P1', format('{"id":%s}', i)::json FROM generate_series($2::int, $2::int + $1 - 1) i`,
      [n, from],
    );

  beforeAll(async () => {
    db = await connectTestDb();
  });
  beforeEach(async () => {
    modules = [];
    await resetTables(db);
  });
  afterEach(async () => {
    await setDatabaseUp(true);
    await Promise.all(modules.map((m) => m.close()));
  });
  afterAll(() => db.end());

  it('publishes each event once and marks it published', async () => {
    await addEvents(3);
    const publisher = new RecordingPublisher();
    const relay = await relayWith(publisher);
    await expect(relay.relayOnce()).resolves.toBe(3);
    await expect(relay.relayOnce()).resolves.toBe(0);
    expect(publisher.sent).toHaveLength(3);
    expect(await unpublished()).toBe(0);
  });

  it('does not send an event twice when the database fails between the broker ack and the mark', async () => {
    await addEvents(3);
    const first = new RecordingPublisher();
    const other = new RecordingPublisher();
    const relay = await relayWith(first);
    const otherRelay = await relayWith(other);
    // The broker acknowledges, then the database goes away before the events are marked published.
    first.beforeAck = async () => {
      first.beforeAck = async () => undefined;
      await setDatabaseUp(false);
    };
    await expect(relay.relayOnce()).rejects.toThrow();
    await setDatabaseUp(true);

    // Another calculator's relay, and this one once the database is back: nobody sends them again.
    await expect(otherRelay.relayOnce()).resolves.toBe(0);
    await relay.relayOnce();
    expect(first.sent).toHaveLength(3);
    expect(other.sent).toHaveLength(0);
    expect(await unpublished()).toBe(0);
  });

  it('keeps other relays off the events a relay is sending, even past its lease', async () => {
    await addEvents(2);
    const repo = await repository();
    const token = await repo.lease(10, 1);
    let sending!: () => void;
    const held = new Promise<void>((resolve) => (sending = resolve));
    // The relay is frozen in the middle of its send (a long GC pause, SIGSTOP) for longer than the lease.
    const send = repo.sendLeased(token!, () => held);
    await new Promise((r) => setTimeout(r, 1500));

    const other = new RecordingPublisher();
    await expect((await relayWith(other)).relayOnce()).resolves.toBe(0);
    sending();
    await expect(send).resolves.toBe(2);
    expect(other.sent).toHaveLength(0);
  });

  it('sends a batch the broker refused again, unchanged, before newer events, and keeps it meanwhile', async () => {
    await addEvents(2);
    const publisher = new RecordingPublisher();
    publisher.beforeAck = () => Promise.reject(new Error('broker unavailable'));
    const relay = await relayWith(publisher);
    await expect(relay.relayOnce()).rejects.toThrow('broker unavailable');

    // The failed batch stays this relay's (the broker may hold part of it): nobody else sends it.
    await addEvents(1, 3);
    const other = new RecordingPublisher();
    await expect((await relayWith(other)).relayOnce()).resolves.toBe(1);
    publisher.beforeAck = async () => undefined;
    await expect(relay.relayOnce()).resolves.toBe(2);
    expect(publisher.attempts).toEqual([
      ['{"id":1}', '{"id":2}'],
      ['{"id":1}', '{"id":2}'],
    ]);
    expect(other.sent).toEqual(['{"id":3}']);
    expect(publisher.producersReplaced).toBe(0);
  });

  it('gives a failed batch up, with its producer, once its lease ran out', async () => {
    await addEvents(2);
    const publisher = new RecordingPublisher();
    publisher.beforeAck = () => Promise.reject(new Error('broker unavailable'));
    const relay = await relayWith(publisher);
    await expect(relay.relayOnce()).rejects.toThrow('broker unavailable');
    await db.query(`UPDATE valuation_outbox SET relay_lease_until = now() - interval '1 second'`);

    publisher.beforeAck = async () => undefined;
    await expect(relay.relayOnce()).resolves.toBe(2);
    expect(publisher.producersReplaced).toBe(1);
    expect(publisher.sent).toHaveLength(2);
  });

  it('leaves a batch it could not send to the other relays when it stops', async () => {
    await addEvents(2);
    const refusing = new RecordingPublisher();
    refusing.beforeAck = () => Promise.reject(new Error('broker unavailable'));
    const relay = await relayWith(refusing);
    await expect(relay.relayOnce()).rejects.toThrow('broker unavailable');
    await relay.drainAndStop();

    const publisher = new RecordingPublisher();
    await expect((await relayWith(publisher)).relayOnce()).resolves.toBe(2);
    expect(publisher.sent).toHaveLength(2);
  });
});
