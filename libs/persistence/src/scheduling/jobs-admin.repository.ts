import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { JobStatus } from '@app/valuation';

/** A job as the operators' API shows it (snake_case, as in the table). */
export interface JobView {
  id: string;
  portfolio_id: string;
  security_id: string;
  valuation_date: string;
  epoch: number;
  status: JobStatus;
  attempt_count: number;
  failure_reason: string | null;
  /** ISO-8601 UTC; null: due as soon as created. */
  next_attempt_at: string | null;
  correlation_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface JobFilter {
  statuses?: readonly JobStatus[];
  minAttempts?: number;
  portfolioId?: string;
  securityId?: string;
  /** valuation_date range, inclusive, YYYY-MM-DD. */
  from?: string;
  to?: string;
  limit: number;
  offset: number;
}

export type RetryResult =
  { kind: 'retried'; job: JobView } | { kind: 'not_found' } | { kind: 'conflict'; status: JobStatus };

// Instants as ISO-8601 UTC strings with the column's microseconds, formatted by the database so a
// listed job and a retried one read the same.
const iso = (column: string) =>
  `to_char(j.${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${column}`;

const COLUMNS = `j.id::text AS id, j.portfolio_id, j.security_id,
  to_char(j.valuation_date, 'YYYY-MM-DD') AS valuation_date, j.epoch, j.status, j.attempt_count,
  j.failure_reason, ${iso('next_attempt_at')}, j.correlation_id, ${iso('created_at')}, ${iso('updated_at')}`;

/** The operators' view of the job table: filtered listing and a manual retry. */
@Injectable()
export class JobsAdminRepository {
  constructor(private readonly ds: DataSource) {}

  /** Newest first. Filters are bound parameters; only the fixed clauses below are ever concatenated. */
  async list(filter: JobFilter): Promise<JobView[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(clause(`$${params.length}`));
    };
    if (filter.statuses?.length) add((p) => `j.status = ANY(${p}::text[])`, filter.statuses);
    if (filter.minAttempts !== undefined) add((p) => `j.attempt_count >= ${p}::int`, filter.minAttempts);
    if (filter.portfolioId !== undefined) add((p) => `j.portfolio_id = ${p}`, filter.portfolioId);
    if (filter.securityId !== undefined) add((p) => `j.security_id = ${p}`, filter.securityId);
    if (filter.from !== undefined) add((p) => `j.valuation_date >= ${p}::date`, filter.from);
    if (filter.to !== undefined) add((p) => `j.valuation_date <= ${p}::date`, filter.to);
    params.push(filter.limit, filter.offset);
    return this.ds.query<JobView[]>(
      `SELECT ${COLUMNS} FROM portfolio_valuation_jobs j
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY j.id DESC
        LIMIT $${params.length - 1}::int OFFSET $${params.length}::int`,
      params,
    );
  }

  /**
   * Makes a PENDING or FAILED job due now (attempt_count kept: it is the job's history). One
   * statement, so the answer describes the row as it was when the update decided.
   */
  async retry(id: string): Promise<RetryResult> {
    const [row] = await this.ds.query<{ found_status: JobStatus; job: JobView | null }[]>(
      `WITH target AS (SELECT id, status FROM portfolio_valuation_jobs WHERE id = $1::bigint),
            retried AS (
              UPDATE portfolio_valuation_jobs j
                 SET status = 'PENDING', next_attempt_at = now(), updated_at = now()
                FROM target t
               WHERE j.id = t.id AND j.status IN ('PENDING', 'FAILED')
              RETURNING ${COLUMNS})
       SELECT t.status AS found_status, (SELECT row_to_json(r) FROM retried r) AS job
         FROM target t`,
      [id],
    );
    if (!row) return { kind: 'not_found' };
    if (!row.job) return { kind: 'conflict', status: row.found_status };
    return { kind: 'retried', job: row.job };
  }
}
