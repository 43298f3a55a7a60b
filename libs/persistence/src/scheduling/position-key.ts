/** A position_state key: the unit backfill and watermarks iterate over. */
export interface PositionKey {
  portfolioId: string;
  securityId: string;
}

/** Result of one bounded pass over position keys, resumable from `resumeAfter` (null: from the start). */
export interface KeyPass {
  keysSeen: number;
  resumeAfter: PositionKey | null;
}

export interface KeyRow {
  portfolio_id: string;
  security_id: string;
}

/**
 * Where the next pass starts: after the last key of this one, or back at the start when this pass
 * reached the end of the eligible keys. `settled` says how many leading rows were fully looked at;
 * a key the row budget cut off is looked at again first next time.
 */
export function nextCursor(rows: readonly KeyRow[], settled: number, keyLimit: number): PositionKey | null {
  if (settled === 0) return rows.length === 0 ? null : toKey(rows[0], true);
  if (settled === rows.length && rows.length < keyLimit) return null;
  return toKey(rows[settled - 1], false);
}

// Resuming "after" a key that was cut off before it was looked at would skip it: step back one
// character-free notch by resuming after a key that sorts just before it.
function toKey(row: KeyRow, before: boolean): PositionKey {
  if (!before) return { portfolioId: row.portfolio_id, securityId: row.security_id };
  return { portfolioId: row.portfolio_id, securityId: '' };
}
