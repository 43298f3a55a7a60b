import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { JobStatus } from '@app/valuation';
import { SCHEDULER_WORKER } from '../jobs/job-claims.repository';

/** A PROCESSING job whose claim lease ran out: its worker died, hung or lost the message. */
export interface ExpiredClaim {
  jobId: string;
  claimToken: string;
  attemptCount: number;
}

/** What an expired claim becomes, decided by the domain's retry rule. */
export interface ClaimRecovery {
  jobId: string;
  claimToken: string;
  status: Extract<JobStatus, 'PENDING' | 'FAILED'>;
  attemptCount: number;
  failureReason: string | null;
  /** Seconds from now to next_attempt_at; null leaves it null. */
  delaySeconds: number | null;
}

/**
 * Recovery and supersession: the two steps that take jobs out of flight. Both are bounded by a row
 * limit and safe against the calculator finishing the same job concurrently.
 */
@Injectable()
export class JobRecoveryRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Oldest-expired first, from the partial index on PROCESSING rows. A row locked right now belongs
   * to a worker between its write and its commit (or frozen there): it is skipped, so it neither
   * blocks the scheduler nor takes the place of the claims that really were abandoned.
   */
  async findExpiredClaims(limit: number): Promise<ExpiredClaim[]> {
    const rows = await this.ds.query<{ id: string; claim_token: string; attempt_count: number }[]>(
      `SELECT id::text AS id, claim_token, attempt_count FROM portfolio_valuation_jobs
        WHERE status = 'PROCESSING' AND claim_expires_at < now()
        ORDER BY claim_expires_at
        LIMIT $1
        FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    return rows.map((r) => ({ jobId: r.id, claimToken: r.claim_token, attemptCount: r.attempt_count }));
  }

  /**
   * Applies the recoveries as a compare-and-set on the claim token: a job the calculator finished
   * (or that was re-claimed) since it was read no longer carries that token and is left alone, so
   * no row lock is held between the read and this write. A row a worker has locked meanwhile is
   * skipped rather than waited for. Each recovered claim ends its attempt in the history as
   * `lease_expired` by the scheduler, in the same statement. Returns the ids recovered.
   */
  async applyRecoveries(recoveries: readonly ClaimRecovery[]): Promise<string[]> {
    if (recoveries.length === 0) return [];
    const col = <T>(f: (r: ClaimRecovery) => T) => recoveries.map(f);
    // Every UPDATE here is wrapped in a SELECT: TypeORM returns [rows, count] for a bare one.
    const rows = await this.ds.query<{ id: string }[]>(
      `WITH r AS (
         SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::float8[])
           AS r(id, claim_token, status, attempt_count, failure_reason, delay_seconds)),
       free AS (
         SELECT j.id FROM portfolio_valuation_jobs j JOIN r ON r.id = j.id
          WHERE j.status = 'PROCESSING' AND j.claim_token = r.claim_token AND j.claim_expires_at < now()
          FOR UPDATE OF j SKIP LOCKED),
       recovered AS (
         UPDATE portfolio_valuation_jobs j
            SET status = r.status, attempt_count = r.attempt_count, failure_reason = r.failure_reason,
                next_attempt_at = CASE WHEN r.delay_seconds IS NULL THEN NULL
                                       ELSE now() + make_interval(secs => r.delay_seconds) END,
                waiting_on = NULL, claim_token = NULL, claim_expires_at = NULL, updated_at = now()
           FROM r, free
          WHERE j.id = r.id AND j.id = free.id
         RETURNING j.id, j.attempt_seq, j.attempt_started_at, r.claim_token, r.failure_reason),
       history AS (
         INSERT INTO valuation_job_attempts (job_id, attempt, claim_token, claimed_at, outcome, reason, worker)
         SELECT id, attempt_seq, claim_token, attempt_started_at, 'lease_expired', failure_reason,
                '${SCHEDULER_WORKER}'
           FROM recovered
         RETURNING 1)
       SELECT id::text AS id FROM recovered`,
      [
        col((r) => r.jobId),
        col((r) => r.claimToken),
        col((r) => r.status),
        col((r) => r.attemptCount),
        col((r) => r.failureReason),
        col((r) => r.delaySeconds),
      ],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Jobs of an epoch older than their key's current one can never produce a current snapshot.
   * PROCESSING ones are included: dropping the claim frees in-flight capacity at once, and the
   * worker holding it would have skipped the job anyway. FAILED ones too: an operator can do nothing
   * useful with a failure of an epoch upstream has rewritten, so it stops counting as FAILED (a
   * FAILED job of the current epoch stays for the operator). Returns how many were superseded.
   *
   * The unsettled jobs are read first through the (status, id) index (MATERIALIZED keeps the planner
   * from walking every settled job of the table instead), and the update re-checks the status, so a
   * job the calculator settled in between is left as it is.
   *
   * The obsolete ids are collected once (ARRAY(…) is an InitPlan) before the update looks them up.
   * Joined instead (`UPDATE … FROM obsolete`), statistics taken before a burst of new jobs (a few
   * unsettled rows estimated, thousands there) made the planner re-run the whole obsolete search for
   * every unsettled row: 5,000 PENDING jobs took over a minute instead of 25 ms (`npm run bench`).
   */
  async supersedeObsolete(limit: number): Promise<number> {
    const [row] = await this.ds.query<{ n: number }[]>(
      `WITH unsettled AS MATERIALIZED (
         SELECT id, portfolio_id, security_id, epoch FROM portfolio_valuation_jobs
          WHERE status IN ('PENDING', 'PROCESSING', 'FAILED')),
       obsolete AS (
         SELECT u.id FROM unsettled u
          WHERE EXISTS (SELECT 1 FROM position_state ps
                         WHERE ps.portfolio_id = u.portfolio_id AND ps.security_id = u.security_id
                           AND ps.epoch > u.epoch)
          LIMIT $1),
       superseded AS (
         UPDATE portfolio_valuation_jobs j
            SET status = 'SKIPPED_SUPERSEDED', next_attempt_at = NULL, waiting_on = NULL,
                claim_token = NULL, claim_expires_at = NULL, updated_at = now()
          WHERE j.id = ANY (ARRAY(SELECT id FROM obsolete)) AND j.status IN ('PENDING', 'PROCESSING', 'FAILED')
         RETURNING j.id)
       SELECT count(*)::int AS n FROM superseded`,
      [limit],
    );
    return row.n;
  }
}
