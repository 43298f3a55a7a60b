/**
 * What a peer queue's task does for one job, in one statement: read the position (the latest trade on
 * or before the date) and the latest close on or before it, and upsert the day's snapshot. No FX, no
 * attempt history, no outbox, no event: the least a valuation can be, so the comparison favours the
 * peers (the pipeline does all of that too).
 */
export const VALUE_ONE_SQL = `
  INSERT INTO daily_position_snapshots AS s
         (portfolio_id, security_id, date, quantity, cost_basis, cost_basis_local,
          market_price, market_value, valuation_status)
  SELECT p.portfolio_id, p.security_id, $3::date, p.quantity, p.cost_basis, p.cost_basis_local,
         m.price, p.quantity * m.price, CASE WHEN m.price IS NULL THEN 'UNVALUED' ELSE 'VALUED_CURRENT' END
    FROM (SELECT * FROM position_history
           WHERE portfolio_id = $1 AND security_id = $2 AND epoch = 0 AND position_date <= $3::date
           ORDER BY position_date DESC, id DESC LIMIT 1) p
    LEFT JOIN LATERAL (SELECT price FROM market_prices
                        WHERE security_id = $2 AND price_date <= $3::date
                        ORDER BY price_date DESC LIMIT 1) m ON true
  ON CONFLICT (portfolio_id, security_id, date, epoch) DO UPDATE
     SET quantity = EXCLUDED.quantity, cost_basis = EXCLUDED.cost_basis,
         cost_basis_local = EXCLUDED.cost_basis_local, market_price = EXCLUDED.market_price,
         market_value = EXCLUDED.market_value, valuation_status = EXCLUDED.valuation_status,
         updated_at = now()`;

/** A job's payload: the dataset's job key. */
export interface ValueOne {
  portfolioId: string;
  securityId: string;
  date: string;
}

export const valueOneParams = (p: ValueOne) => [p.portfolioId, p.securityId, p.date];

/** The queue (pg-boss) or task identifier (graphile-worker) the peers use. */
export const TASK = 'value_one';
