/**
 * SQLSTATEs that mean "the database refuses this value", as opposed to "the database is unavailable
 * or busy". Class 22 (data exception: out-of-range dates and numbers, NUL and bad UTF-8, over-long
 * strings), NOT NULL and CHECK violations, and 54000 (an index row too large for a long key).
 * Everything else, connection loss (08), serialization failures and deadlocks (40), cancelled
 * statements and timeouts (57014, 55P03), is infrastructure: the transaction is retried as it is.
 */
const REFUSED_VALUE_CODES = new Set(['23502', '23514', '54000']);

function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, driverError } = error as { code?: unknown; driverError?: { code?: unknown } };
  const state = typeof code === 'string' ? code : driverError?.code;
  return typeof state === 'string' ? state : undefined;
}

/** The database's reason when `error` is PostgreSQL refusing a value of the statement; null otherwise. */
export function refusedValueReason(error: unknown): string | null {
  const state = sqlState(error);
  if (state === undefined || !(state.startsWith('22') || REFUSED_VALUE_CODES.has(state))) return null;
  const message = error instanceof Error ? error.message : String(error);
  return `the database refused a value (SQLSTATE ${state}): ${message}`;
}
