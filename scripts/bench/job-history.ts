import type { Client } from 'pg';

/**
 * Every version of every job row, recorded by statement-level triggers that the bench installs in
 * its own database (never part of the pipeline's schema): the transition tables hold exactly the rows
 * each INSERT or UPDATE wrote, so a claim, a failed attempt, a wake-up and a completion each leave one
 * history row with the job's status, attempts and next_attempt_at as that statement set them.
 * Versions of one job are ordered by `seq`: row locks serialize the writers of a row, and a waiting
 * writer's trigger runs only after the previous writer committed.
 */
export async function installJobHistory(db: Client): Promise<void> {
  await db.query(`
    CREATE TABLE bench_job_history (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, job_id bigint NOT NULL, status text NOT NULL,
      attempt_count int NOT NULL, next_attempt_at timestamptz, updated_at timestamptz NOT NULL);
    CREATE FUNCTION bench_record_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO bench_job_history (job_id, status, attempt_count, next_attempt_at, updated_at)
        SELECT id, status, attempt_count, next_attempt_at, updated_at FROM written;
        RETURN NULL;
      END $$;
    CREATE TRIGGER bench_jobs_inserted AFTER INSERT ON portfolio_valuation_jobs
      REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION bench_record_jobs();
    CREATE TRIGGER bench_jobs_updated AFTER UPDATE ON portfolio_valuation_jobs
      REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION bench_record_jobs();`);
}

export interface BackoffCheck {
  /** Claims (PENDING → PROCESSING), i.e. dispatches. */
  claims: number;
  /** Claims of a job that had failed before. */
  retries: number;
  /** …of which released by its backoff running out, and by a wake-up (or fan-out) after the arrival. */
  afterBackoff: number;
  afterWakeUp: number;
  /** Failed attempts, and the shortest and longest backoff they set (s). */
  failures: number;
  minBackoff: number;
  maxBackoff: number;
  maxDispatchesPerJob: number;
  /** Jobs completed after the arrival (with the new rate) and then re-opened by its fan-out anyway. */
  reopenedAfterHealing: number;
  /** Violations, each must be 0. */
  claimedBeforeDue: number;
  backoffTooShort: number;
  wokenBeforeArrival: number;
  unexplainedRetries: number;
}

/**
 * The proof that no job was dispatched before its backoff, from the recorded versions:
 *
 * 1. every claim happened at or after the next_attempt_at of the version it claimed (claim and check
 *    use the same transaction clock, `now()`, so this is exact);
 * 2. every failed attempt set next_attempt_at at least the base backoff after its own write
 *    (jitter only adds), i.e. `next_attempt_at − updated_at ≥ backoff`;
 * 3. every wake-up happened after the missing rate was persisted: a version made due at its own write
 *    time with the attempts unchanged, which is the calculator's wake-up of a waiting job and the
 *    fan-out's wake-up, re-opening (of a job settled meanwhile) or withdrawn claim;
 * 4. so every retry is explained: the version it claimed was either set by a failure (released by
 *    its backoff) or by a wake-up after the arrival.
 */
export async function checkBackoff(
  db: Client,
  backoffSeconds: number,
  arrivedAt: string,
): Promise<BackoffCheck> {
  const { rows } = await db.query<Record<keyof BackoffCheck, number>>(
    `WITH v AS (
       SELECT h.*, lag(h.status) OVER w AS prev_status, lag(h.attempt_count) OVER w AS prev_attempts,
              lag(h.next_attempt_at) OVER w AS prev_next, lag(h.updated_at) OVER w AS prev_updated
         FROM bench_job_history h WINDOW w AS (PARTITION BY h.job_id ORDER BY h.seq)),
     kinds AS (
       SELECT v.*,
              status = 'PENDING' AND prev_status = 'PROCESSING' AND attempt_count = prev_attempts + 1 AS failure,
              status = 'PENDING' AND prev_status IS NOT NULL AND attempt_count = prev_attempts
                AND next_attempt_at = updated_at AS wake_up
         FROM v),
     claims AS (
       SELECT * FROM (SELECT k.*, lag(k.failure) OVER w AS released_by_failure,
                             lag(k.wake_up) OVER w AS released_by_wake_up
                        FROM kinds k WINDOW w AS (PARTITION BY k.job_id ORDER BY k.seq)) c
        WHERE c.status = 'PROCESSING' AND c.prev_status = 'PENDING')
     SELECT (SELECT count(*) FROM claims)::int AS claims,
            (SELECT count(*) FROM claims WHERE prev_attempts > 0)::int AS retries,
            (SELECT count(*) FROM claims WHERE prev_attempts > 0 AND released_by_failure)::int AS "afterBackoff",
            (SELECT count(*) FROM claims WHERE prev_attempts > 0 AND released_by_wake_up)::int AS "afterWakeUp",
            (SELECT count(*) FROM kinds WHERE failure)::int AS failures,
            (SELECT COALESCE(min(extract(epoch FROM next_attempt_at - updated_at)), 0) FROM kinds WHERE failure)::float8 AS "minBackoff",
            (SELECT COALESCE(max(extract(epoch FROM next_attempt_at - updated_at)), 0) FROM kinds WHERE failure)::float8 AS "maxBackoff",
            (SELECT COALESCE(max(n), 0) FROM (SELECT count(*) AS n FROM claims GROUP BY job_id) x)::int AS "maxDispatchesPerJob",
            (SELECT count(*) FROM kinds WHERE wake_up AND prev_status = 'COMPLETE'
                AND prev_updated >= $2::timestamptz)::int AS "reopenedAfterHealing",
            (SELECT count(*) FROM claims WHERE prev_next IS NOT NULL AND prev_next > updated_at)::int AS "claimedBeforeDue",
            (SELECT count(*) FROM kinds WHERE failure
                AND next_attempt_at - updated_at < make_interval(secs => $1))::int AS "backoffTooShort",
            (SELECT count(*) FROM kinds WHERE wake_up AND updated_at < $2::timestamptz)::int AS "wokenBeforeArrival",
            (SELECT count(*) FROM claims WHERE prev_attempts > 0
                AND NOT COALESCE(released_by_failure OR released_by_wake_up, false))::int AS "unexplainedRetries"`,
    [backoffSeconds, arrivedAt],
  );
  return rows[0];
}
