import type { Client } from 'pg';
import { DataSource } from 'typeorm';
import { decimal, fromNow, seedBook, seedJobIds, seedRange } from '../scripts/lib/seed';
import { connectTestDb, resetTables, testDatabaseUrl } from './support/database';

/** The seeding module (scripts/lib/seed.ts) that the demo, the bench, the fault suite and the specs share. */
describe('seedBook and seedJobIds', () => {
  let db: Client;

  beforeAll(async () => {
    db = await connectTestDb();
  });
  afterAll(() => db.end());
  beforeEach(() => resetTables(db));

  const one = async <T>(sql: string, params: unknown[] = []): Promise<T> =>
    (await db.query<T & object>(sql, params)).rows[0];

  it('writes every table of a book in one statement, and counts the rows per table', async () => {
    const counts = await seedBook(db, {
      businessDates: [{ date: '2025-01-02' }],
      portfolios: [{ portfolioId: 'P1', baseCurrency: 'EUR' }],
      instruments: [{ securityId: 'S1', currency: 'USD', name: 'One', productType: 'EQUITY' }],
      prices: [{ securityId: 'S1', date: '2025-01-02', price: '12.3456789012', currency: 'USD' }],
      fxRates: [{ from: 'EUR', to: 'USD', date: '2025-01-02', rate: decimal(10_834, 4) }],
      positions: [
        {
          portfolioId: 'P1',
          securityId: 'S1',
          date: '2025-01-02',
          quantity: 3,
          costBasis: '9',
          costBasisLocal: 10,
        },
      ],
      positionStates: [{ portfolioId: 'P1', securityId: 'S1', watermarkDate: '2025-01-01' }],
      jobs: [{ portfolioId: 'P1', securityId: 'S1', date: '2025-01-02' }],
      snapshots: [
        {
          portfolioId: 'P1',
          securityId: 'S1',
          date: '2025-01-01',
          quantity: 3,
          costBasis: 9,
          costBasisLocal: 10,
          valuationStatus: 'FAILED',
          failureReason: 'no price',
        },
      ],
    });
    expect(counts).toEqual({
      businessDates: 1,
      portfolios: 1,
      instruments: 1,
      prices: 1,
      fxRates: 1,
      positions: 1,
      positionStates: 1,
      jobs: 1,
      snapshots: 1,
    });
    // Every column a row left out took the schema's default.
    expect(await one(`SELECT calendar_code, date::text FROM business_dates`)).toEqual({
      calendar_code: 'GLOBAL',
      date: '2025-01-02',
    });
    expect(await one(`SELECT price::text, currency FROM market_prices`)).toEqual({
      price: '12.3456789012',
      currency: 'USD',
    });
    expect(await one(`SELECT rate::text FROM fx_rates`)).toEqual({ rate: '1.0834000000' });
    expect(await one(`SELECT epoch, quantity::text, cost_basis_local::text FROM position_history`)).toEqual({
      epoch: 0,
      quantity: '3.0000000000',
      cost_basis_local: '10.0000000000',
    });
    expect(
      await one(`SELECT status, watermark_date::text AS w, backfilled_epoch FROM position_state`),
    ).toEqual({
      status: 'CURRENT',
      w: '2025-01-01',
      backfilled_epoch: null,
    });
    expect(
      await one(`SELECT status, attempt_count, epoch, next_attempt_at FROM portfolio_valuation_jobs`),
    ).toEqual({
      status: 'PENDING',
      attempt_count: 0,
      epoch: 0,
      next_attempt_at: null,
    });
  });

  it('lets rows of one table give different fields: each takes the defaults of what it leaves out', async () => {
    await seedBook(db, {
      jobs: [
        { portfolioId: 'P1', securityId: 'S1', date: '2025-01-01' },
        { portfolioId: 'P1', securityId: 'S1', date: '2025-01-02', status: 'FAILED', attemptCount: 4 },
        {
          portfolioId: 'P1',
          securityId: 'S1',
          date: '2025-01-03',
          waitingOn: 'PRICE:S1',
          nextAttemptAt: fromNow(600),
          createdAt: '2025-02-21T07:00:00Z',
          updatedAt: fromNow(-3600),
        },
        { portfolioId: 'P1', securityId: 'S1', date: '2025-01-04', waitingOn: null, nextAttemptAt: null },
      ],
    });
    // Relative times are taken from the statement's now(), which the defaults of the other rows got too.
    const { rows } = await db.query(
      `SELECT to_char(valuation_date, 'DD') AS d, status, attempt_count, waiting_on,
              extract(epoch FROM next_attempt_at - updated_at)::int AS due_after_write,
              round(extract(epoch FROM now() - updated_at) / 60)::int AS written_minutes_ago,
              created_at = '2025-02-21T07:00:00Z' AS given_created
         FROM portfolio_valuation_jobs ORDER BY valuation_date`,
    );
    const row = (d: string, status: string, attempts: number, waitingOn: string | null = null) => ({
      d,
      status,
      attempt_count: attempts,
      waiting_on: waitingOn,
      due_after_write: null,
      written_minutes_ago: 0,
      given_created: false,
    });
    expect(rows).toEqual([
      row('01', 'PENDING', 0),
      row('02', 'FAILED', 4),
      {
        ...row('03', 'PENDING', 0, 'PRICE:S1'),
        due_after_write: 4200,
        written_minutes_ago: 60,
        given_created: true,
      },
      row('04', 'PENDING', 0),
    ]);
  });

  it('times relative rows on the database clock of the statement, the same now() for every row', async () => {
    await seedBook(db, {
      jobs: ['2025-01-01', '2025-01-02'].map((date) => ({
        portfolioId: 'P1',
        securityId: 'S1',
        date,
        nextAttemptAt: fromNow(2.5),
      })),
    });
    const { rows } = await db.query<{ after: string }>(
      `SELECT (next_attempt_at - created_at)::text AS after FROM portfolio_valuation_jobs`,
    );
    expect(rows.map((r) => r.after)).toEqual(['00:00:02.5', '00:00:02.5']);
  });

  it('is one statement: a row that fails leaves no table written', async () => {
    const job = { portfolioId: 'P1', securityId: 'S1', date: '2025-01-01' };
    await expect(
      seedBook(db, { portfolios: [{ portfolioId: 'P1', baseCurrency: 'USD' }], jobs: [job, job] }),
    ).rejects.toThrow(/duplicate key/);
    expect(
      await one(
        `SELECT (SELECT count(*) FROM portfolios)::int AS p, (SELECT count(*) FROM portfolio_valuation_jobs)::int AS j`,
      ),
    ).toEqual({
      p: 0,
      j: 0,
    });
  });

  it('skips existing keys only in the tables named, and counts only the rows it added', async () => {
    const book = {
      businessDates: [{ date: '2025-01-01' }, { date: '2025-01-02' }],
      portfolios: [{ portfolioId: 'P1', baseCurrency: 'USD' }],
    };
    await seedBook(db, { businessDates: [{ date: '2025-01-01' }] });
    await expect(seedBook(db, book, { skipExisting: ['businessDates'] })).resolves.toMatchObject({
      businessDates: 1,
      portfolios: 1,
    });
    await expect(seedBook(db, book, { skipExisting: ['businessDates'] })).rejects.toThrow(/portfolios_pkey/);
  });

  it('keeps text as given through the arrays it is sent in', async () => {
    const name = 'Nestlé "N", {a,b} \\ NULL';
    await seedBook(db, {
      instruments: [
        { securityId: 'S,1', currency: 'CHF', name },
        { securityId: 'NULL', currency: 'CHF' },
      ],
    });
    const { rows } = await db.query(`SELECT security_id, name FROM instruments ORDER BY security_id`);
    expect(rows).toEqual([
      { security_id: 'NULL', name: null },
      { security_id: 'S,1', name },
    ]);
  });

  it('returns job ids in the order given, whatever fields each row gives', async () => {
    await seedJobIds(db, [{ portfolioId: 'P0', securityId: 'S0', date: '2025-01-01' }]);
    const ids = await seedJobIds(db, [
      { portfolioId: 'P1', securityId: 'S1', date: '2025-01-02', status: 'COMPLETE' },
      { portfolioId: 'P1', securityId: 'S1', date: '2025-01-01' },
      { portfolioId: 'P1', securityId: 'S1', date: '2025-01-01', epoch: 1, status: 'COMPLETE' },
    ]);
    const { rows } = await db.query<{ id: string; k: string }>(
      `SELECT id::text, to_char(valuation_date, 'DD') || '#' || epoch AS k FROM portfolio_valuation_jobs`,
    );
    const key = new Map(rows.map((r) => [r.id, r.k]));
    expect(ids.map((id) => key.get(id))).toEqual(['02#0', '01#0', '01#1']);
  });

  it('runs on a TypeORM DataSource and EntityManager too (they answer rows, not { rows })', async () => {
    const ds = await new DataSource({ type: 'postgres', url: testDatabaseUrl() }).initialize();
    try {
      await expect(
        seedBook(ds, { portfolios: [{ portfolioId: 'P1', baseCurrency: 'USD' }] }),
      ).resolves.toMatchObject({
        portfolios: 1,
      });
      const [id] = await ds.transaction((em) =>
        seedJobIds(em, [{ portfolioId: 'P1', securityId: 'S1', date: '2025-01-01' }]),
      );
      expect(await one(`SELECT id::text FROM portfolio_valuation_jobs`)).toEqual({ id });
    } finally {
      await ds.destroy();
    }
  });

  it('seeds a range a slice at a time', async () => {
    const slices: [number, number][] = [];
    await seedRange(
      db,
      3,
      12,
      (from, to) => {
        slices.push([from, to]);
        return {
          businessDates: Array.from({ length: to - from }, (_, i) => ({
            date: `2025-01-${String(from + i).padStart(2, '0')}`,
          })),
        };
      },
      4,
    );
    expect(slices).toEqual([
      [3, 7],
      [7, 11],
      [11, 12],
    ]);
    expect(
      await one(
        `SELECT count(*)::int AS n, min(date)::text AS lo, max(date)::text AS hi FROM business_dates`,
      ),
    ).toEqual({
      n: 9,
      lo: '2025-01-03',
      hi: '2025-01-11',
    });
  });

  it('writes whole units as exact decimals', () => {
    expect([decimal(12_345, 2), decimal(5, 3), decimal(-5, 3), decimal(0, 2), decimal(42, 0)]).toEqual([
      '123.45',
      '0.005',
      '-0.005',
      '0.00',
      '42',
    ]);
    expect(() => decimal(1.5, 2)).toThrow(/whole units/);
  });
});
