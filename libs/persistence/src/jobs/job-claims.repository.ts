import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** `worker` of the attempts the scheduler ends (released, recovered), contract §9. */
export const SCHEDULER_WORKER = 'scheduler';
export const PUBLISH_FAILED_REASON = 'publish to the broker failed or was not acknowledged in time';

/** A job handed to a calculator: the key, plus the claim that alone may finish it. */
export interface ClaimedJob {
  jobId: string;
  claimToken: string;
  portfolioId: string;
  securityId: string;
  valuationDate: string;
  epoch: number;
  correlationId: string;
  attemptCount: number;
}

interface ClaimedRow {
  id: string;
  claim_token: string;
  portfolio_id: string;
  security_id: string;
  valuation_date: string;
  epoch: number;
  correlation_id: string;
  attempt_count: number;
}

/**
 * The scheduler's half of the claim protocol (the calculator's half is the claim check in
 * JobOutcomeWriter). A claim is a fresh token on a PROCESSING row with a lease; whoever finishes
 * the job must present the token, so a worker whose claim expired and was re-issued writes nothing.
 * Time is the database's clock, so every process agrees on what is due and what has expired.
 */
@Injectable()
export class JobClaimsRepository {
  constructor(private readonly ds: DataSource) {}

  async countInFlight(): Promise<number> {
    const [row] = await this.ds.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM portfolio_valuation_jobs WHERE status = 'PROCESSING'`,
    );
    return Number(row.n);
  }

  /** Claims up to `limit` due jobs of the current epoch, oldest due first, skipping rows others hold. */
  async claimDueJobs(limit: number, leaseSeconds: number): Promise<ClaimedJob[]> {
    if (limit <= 0) return [];
    const rows = await this.ds.query<ClaimedRow[]>(
      `WITH due AS (
         SELECT j.id FROM portfolio_valuation_jobs j
          WHERE j.status = 'PENDING'
            AND COALESCE(j.next_attempt_at, j.created_at) <= now()
            AND NOT EXISTS (SELECT 1 FROM position_state ps
                             WHERE ps.portfolio_id = j.portfolio_id AND ps.security_id = j.security_id
                               AND ps.epoch > j.epoch)
          ORDER BY COALESCE(j.next_attempt_at, j.created_at), j.id
          LIMIT $1
          FOR UPDATE SKIP LOCKED),
       claimed AS (
       UPDATE portfolio_valuation_jobs j
          SET status = 'PROCESSING',
              claim_token = gen_random_uuid(),
              claim_expires_at = now() + make_interval(secs => $2),
              correlation_id = COALESCE(j.correlation_id, gen_random_uuid()::text),
              updated_at = now(),
              attempt_seq = j.attempt_seq + 1,
              attempt_started_at = now()
         FROM due WHERE j.id = due.id
       RETURNING j.id::text, j.claim_token, j.portfolio_id, j.security_id,
                 to_char(j.valuation_date, 'YYYY-MM-DD') AS valuation_date, j.epoch, j.correlation_id,
                 j.attempt_count)
       SELECT * FROM claimed`,
      [limit, leaseSeconds],
    );
    return rows.map((r) => ({
      jobId: r.id,
      claimToken: r.claim_token,
      portfolioId: r.portfolio_id,
      securityId: r.security_id,
      valuationDate: r.valuation_date,
      epoch: r.epoch,
      correlationId: r.correlation_id,
      attemptCount: r.attempt_count,
    }));
  }

  /**
   * Gives claims back at once (their publish failed, or leadership was lost before it): the jobs are
   * due again, no attempt counted against them. Each released claim ends its attempt in the history
   * as `publish_failed` by the scheduler, with `reason` (a fixed text: a broker's error may name hosts).
   */
  async releaseClaims(
    claims: Pick<ClaimedJob, 'jobId' | 'claimToken'>[],
    reason: string = PUBLISH_FAILED_REASON,
  ): Promise<number> {
    if (claims.length === 0) return 0;
    // Wrapped in a SELECT: TypeORM returns [rows, count] for a bare UPDATE … RETURNING.
    const rows = await this.ds.query<unknown[]>(
      `WITH released AS (
         UPDATE portfolio_valuation_jobs j
            SET status = 'PENDING', claim_token = NULL, claim_expires_at = NULL, updated_at = now()
           FROM unnest($1::bigint[], $2::uuid[]) AS c(id, token)
          WHERE j.id = c.id AND j.status = 'PROCESSING' AND j.claim_token = c.token
         RETURNING j.id, j.attempt_seq, j.attempt_started_at, c.token),
       history AS (
         INSERT INTO valuation_job_attempts (job_id, attempt, claim_token, claimed_at, outcome, reason, worker)
         SELECT id, attempt_seq, token, attempt_started_at, 'publish_failed', $3, '${SCHEDULER_WORKER}'
           FROM released
         RETURNING 1)
       SELECT id FROM released`,
      [claims.map((c) => c.jobId), claims.map((c) => c.claimToken), reason],
    );
    return rows.length;
  }
}
