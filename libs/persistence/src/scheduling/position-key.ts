/** A position_state key: the unit backfill and watermarks iterate over. */
export interface PositionKey {
  portfolioId: string;
  securityId: string;
}

export interface KeyRow {
  portfolio_id: string;
  security_id: string;
}

/**
 * Where the next bounded pass over position keys starts. Passes walk the keys in primary-key order
 * from a cursor, so every eligible key gets its turn once per round whatever state the others are
 * in: a key that cannot advance costs one look per round and never holds the others back.
 *
 * `settled` is the number of leading rows that were fully looked at (a row budget may cut a pass
 * short; the cut-off keys come first next time). A pass that saw fewer keys than it could have
 * reached the end, so the next one starts over (null).
 */
export function nextCursor(rows: readonly KeyRow[], settled: number, keyLimit: number): PositionKey | null {
  if (settled === 0) return null;
  if (settled === rows.length && rows.length < keyLimit) return null;
  const last = rows[settled - 1];
  return { portfolioId: last.portfolio_id, securityId: last.security_id };
}
