import type { Client } from 'pg';

const latestRate = (alias: string, from: string, to: string) => `
  LEFT JOIN LATERAL (
    SELECT f.rate FROM fx_rates f
     WHERE f.from_currency = ${from} AND f.to_currency = ${to} AND f.rate_date <= j.valuation_date
     ORDER BY f.rate_date DESC LIMIT 1) ${alias} ON ${from} <> ${to}`;

/**
 * Contract §3 for every job in one set-based statement: the same lookups the calculator's read makes
 * (position, portfolio, instrument, latest price, direct then inverse FX for the price and the base
 * conversion), the arithmetic in SQL numerics, written to an unindexed scratch table. Nothing the
 * pipeline does per job (claims, Kafka, the outbox, the job update) is in it: it is the least work
 * the database can do to produce these valuations.
 */
const FLOOR_SQL = `
  INSERT INTO bench_floor (job_id, quantity, cost_basis, cost_basis_local, market_price, market_value_local,
                           market_value, unrealized_gain_loss_local, unrealized_gain_loss, valuation_status)
  SELECT j.id, pos.quantity, pos.cost_basis, pos.cost_basis_local, mp.price,
         round(v.mvl, 10), round(v.mvl * v.bfx, 10),
         round(v.mvl - pos.cost_basis_local, 10), round(v.mvl * v.bfx - pos.cost_basis, 10),
         CASE WHEN pos.quantity = 0 OR mp.price_date = j.valuation_date THEN 'VALUED_CURRENT'
              WHEN v.mvl IS NULL OR v.bfx IS NULL THEN 'FAILED' ELSE 'VALUED_STALE' END
    FROM portfolio_valuation_jobs j
    JOIN portfolios pf ON pf.portfolio_id = j.portfolio_id
    JOIN instruments ins ON ins.security_id = j.security_id
    JOIN LATERAL (
      SELECT h.quantity, h.cost_basis, h.cost_basis_local FROM position_history h
       WHERE h.portfolio_id = j.portfolio_id AND h.security_id = j.security_id AND h.epoch = j.epoch
         AND h.position_date <= j.valuation_date
       ORDER BY h.position_date DESC, h.id DESC LIMIT 1) pos ON true
    LEFT JOIN LATERAL (
      SELECT m.price, m.price_date, m.currency FROM market_prices m
       WHERE m.security_id = j.security_id AND m.price_date <= j.valuation_date
       ORDER BY m.price_date DESC LIMIT 1) mp ON true
    ${latestRate('pfx', 'mp.currency', 'ins.currency')}
    ${latestRate('pfxi', 'ins.currency', 'mp.currency')}
    ${latestRate('bfx', 'ins.currency', 'pf.base_currency')}
    ${latestRate('bfxi', 'pf.base_currency', 'ins.currency')}
    CROSS JOIN LATERAL (
      SELECT CASE WHEN pos.quantity = 0 THEN 0
                  ELSE pos.quantity * mp.price
                       * CASE WHEN mp.currency = ins.currency THEN 1 ELSE COALESCE(pfx.rate, 1 / pfxi.rate) END
             END AS mvl,
             CASE WHEN ins.currency = pf.base_currency OR pos.quantity = 0 THEN 1
                  ELSE COALESCE(bfx.rate, 1 / bfxi.rate) END AS bfx) v`;

export interface FloorMeasurement {
  rows: number;
  /** Median of the repeats, seconds. */
  seconds: number;
  rowsPerSecond: number;
  repeats: number[];
  /** Rows whose market value differs from the pipeline's snapshot by more than 1e-6 (of `compared`). */
  compared: number;
  mismatches: number;
  maxAbsDifference: number;
  plan: string;
}

/** Runs the floor statement `repeats` times into a truncated scratch table; compares with the snapshots. */
export async function measureFloor(db: Client, repeats = 3): Promise<FloorMeasurement> {
  await db.query(
    `CREATE TABLE IF NOT EXISTS bench_floor (
       job_id bigint, quantity numeric(28,10), cost_basis numeric(28,10), cost_basis_local numeric(28,10),
       market_price numeric(28,10), market_value_local numeric(28,10), market_value numeric(28,10),
       unrealized_gain_loss_local numeric(28,10), unrealized_gain_loss numeric(28,10), valuation_status text)`,
  );
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < repeats; i++) {
    await db.query('TRUNCATE bench_floor');
    const started = performance.now();
    const res = await db.query(FLOOR_SQL);
    times.push((performance.now() - started) / 1000);
    rows = res.rowCount ?? 0;
  }
  const { rows: cmp } = await db.query<{ compared: number; mismatches: number; max_diff: string | null }>(
    `SELECT count(*)::int AS compared,
            count(*) FILTER (WHERE abs(f.market_value - s.market_value) > 1e-6)::int AS mismatches,
            max(abs(f.market_value - s.market_value))::text AS max_diff
       FROM bench_floor f
       JOIN portfolio_valuation_jobs j ON j.id = f.job_id
       JOIN daily_position_snapshots s ON (s.portfolio_id, s.security_id, s.date, s.epoch)
                                        = (j.portfolio_id, j.security_id, j.valuation_date, j.epoch)
      WHERE s.valuation_status IN ('VALUED_CURRENT', 'VALUED_STALE')`,
  );
  await db.query('TRUNCATE bench_floor');
  const { rows: plan } = await db.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${FLOOR_SQL}`,
  );
  await db.query('DROP TABLE bench_floor');
  const seconds = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
  return {
    rows,
    seconds,
    rowsPerSecond: rows / seconds,
    repeats: times,
    compared: cmp[0].compared,
    mismatches: cmp[0].mismatches,
    maxAbsDifference: Number(cmp[0].max_diff ?? 0),
    plan: plan.map((r) => r['QUERY PLAN']).join('\n'),
  };
}
