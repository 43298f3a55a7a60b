/** The retry settings of contract §7 (`VALUATION_RETRY_*`), already validated by the config. */
export interface RetrySettings {
  backoffSeconds: number;
  backoffMultiplier: number;
  backoffMaxSeconds: number;
  /** 0 = unlimited. */
  maxAttempts: number;
}

/** Share of the nominal delay added at most as jitter. */
export const BACKOFF_JITTER = 0.1;

/**
 * Delay after the n-th failure: min(base × multiplier^(n−1), max), plus up to 10 % jitter so jobs
 * that failed together do not all come due in the same cycle. The jitter is only ever added, so a
 * job is never due before its nominal backoff. Fractional seconds are kept: next_attempt_at has
 * microsecond resolution and rounding would only bunch jobs together again.
 */
export function backoffDelaySeconds(
  failures: number,
  s: RetrySettings,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(failures) || failures < 1) {
    throw new RangeError(`backoff needs a failure count of at least 1, got ${failures}`);
  }
  // multiplier^(n−1) may overflow to Infinity after many failures; min() caps it either way.
  const nominal = Math.min(s.backoffSeconds * s.backoffMultiplier ** (failures - 1), s.backoffMaxSeconds);
  const jitter = nominal * BACKOFF_JITTER * clampUnit(random());
  return nominal + jitter;
}

// A random source outside [0, 1] would break the "never early, at most 10 % late" promise.
function clampUnit(x: number): number {
  return Number.isFinite(x) ? Math.min(Math.max(x, 0), 1) : 0;
}
