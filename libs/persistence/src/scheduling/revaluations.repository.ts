import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AdminStatementLimit } from './jobs-admin.repository';

/**
 * What an operator asks to re-value: the request body as `revaluationRequestSchema` (`@app/messaging`)
 * validated it, for both the HTTP route and the command.
 */
export interface RevaluationRequest {
  portfolio_id?: string;
  security_id?: string;
  /** YYYY-MM-DD, both included. */
  from: string;
  to: string;
  reason: string;
}

/** A revaluation as the operators' API shows it (contract §9). */
export interface RevaluationView {
  id: string;
  /** RUNNING until the fan-out step has re-opened every job of the scope, then DONE. */
  status: 'RUNNING' | 'DONE';
  portfolio_id: string | null;
  security_id: string | null;
  from: string;
  to: string;
  reason: string;
  requested_by: string;
  jobs_reopened: number;
  jobs_settled: number;
}

interface RevaluationRow {
  id: string;
  done: boolean;
  portfolio_id: string | null;
  security_id: string | null;
  from_date: string;
  to_date: string;
  reason: string;
  requested_by: string;
  created_at: string;
  jobs_reopened: string;
}

/** The scope's condition of the settled count, so each shape joins on an index like the fan-out's. */
function scopeOf(r: RevaluationRow): { where: string; params: string[] } {
  if (r.portfolio_id === null) return { where: 'j.security_id = $4', params: [String(r.security_id)] };
  if (r.security_id === null) return { where: 'j.portfolio_id = $4', params: [r.portfolio_id] };
  return { where: 'j.portfolio_id = $4 AND j.security_id = $5', params: [r.portfolio_id, r.security_id] };
}

/**
 * Operators' revaluations (contract §9). `request` is the one way to start one, used by both
 * `POST /revaluations` and `npm run revalue`; the work itself is a REVALUATION trigger that the
 * scheduler's fan-out step serves (FanOutRepository). Every statement runs under the operators' API
 * statement limit, so requests can never take the cycle's connections.
 */
@Injectable()
export class RevaluationsRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly limit: AdminStatementLimit,
  ) {}

  /**
   * Records the request and its trigger in one statement (both or neither); the id. `requestedBy`: the
   * operator's token name, or `cli:<os user>` for `npm run revalue`. The jobs are
   * re-opened by the following cycles, in chunks, oldest job first.
   */
  async request(r: RevaluationRequest, requestedBy: string): Promise<string> {
    const [row] = await this.limit.run(() =>
      this.ds.query<{ id: string }[]>(
        `WITH r AS (
           INSERT INTO valuation_revaluations (portfolio_id, security_id, from_date, to_date, reason, requested_by)
           VALUES ($1, $2, $3::date, $4::date, $5, $6)
           RETURNING id, from_date),
         tr AS (
           INSERT INTO valuation_triggers (kind, effective_date, revaluation_id)
           SELECT 'REVALUATION', r.from_date, r.id FROM r)
         SELECT id::text AS id FROM r`,
        [r.portfolio_id ?? null, r.security_id ?? null, r.from, r.to, r.reason, requestedBy],
      ),
    );
    return row.id;
  }

  /**
   * One revaluation, or null. `jobs_settled` is cheap and approximate by design: the current-epoch jobs
   * of the scope that are settled (COMPLETE, FAILED, SKIPPED_NO_POSITION) and were last changed after
   * the request was made, at most `jobs_reopened`. A job the revaluation re-opened counts once it has
   * been valued again; a job of the scope that was in flight at the time and settled since counts too,
   * which the cap keeps from showing more settled than re-opened.
   */
  async find(id: string): Promise<RevaluationView | null> {
    return this.limit.run(async () => {
      const [r] = await this.ds.query<RevaluationRow[]>(
        `SELECT id::text AS id, completed_at IS NOT NULL AS done, portfolio_id, security_id,
                to_char(from_date, 'YYYY-MM-DD') AS from_date, to_char(to_date, 'YYYY-MM-DD') AS to_date,
                reason, requested_by, created_at::text AS created_at, jobs_reopened::text AS jobs_reopened
           FROM valuation_revaluations WHERE id = $1::bigint`,
        [id],
      );
      if (!r) return null;
      const scope = scopeOf(r);
      const [settled] = await this.ds.query<{ n: string }[]>(
        `SELECT count(*)::text AS n FROM portfolio_valuation_jobs j
          WHERE ${scope.where} AND j.valuation_date BETWEEN $1::date AND $2::date
            AND j.status IN ('COMPLETE', 'FAILED', 'SKIPPED_NO_POSITION') AND j.updated_at > $3::timestamptz
            AND NOT EXISTS (SELECT 1 FROM position_state ps
                             WHERE ps.portfolio_id = j.portfolio_id AND ps.security_id = j.security_id
                               AND ps.epoch > j.epoch)`,
        [r.from_date, r.to_date, r.created_at, ...scope.params],
      );
      const reopened = Number(r.jobs_reopened);
      return {
        id: r.id,
        status: r.done ? 'DONE' : 'RUNNING',
        portfolio_id: r.portfolio_id,
        security_id: r.security_id,
        from: r.from_date,
        to: r.to_date,
        reason: r.reason,
        requested_by: r.requested_by,
        jobs_reopened: reopened,
        jobs_settled: Math.min(Number(settled.n), reopened),
      };
    });
  }

  /** Revaluations not DONE (the gauge `valuation_revaluations_running`); the cycle's, not under the limit. */
  async countRunning(): Promise<number> {
    const [row] = await this.ds.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM valuation_revaluations WHERE completed_at IS NULL`,
    );
    return row.n;
  }
}
