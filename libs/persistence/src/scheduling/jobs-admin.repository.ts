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

/** How an attempt ended (contract §9): a calculator outcome (§8), or what the scheduler did to the claim. */
export type AttemptOutcome =
  | 'complete'
  | 'retry_scheduled'
  | 'failed'
  | 'skipped_no_position'
  | 'skipped_superseded'
  | 'lease_expired'
  | 'publish_failed';

/** One attempt of a job: a claim's life (or a claimless request's), and what ended it. */
export interface AttemptView {
  attempt: number;
  /** ISO-8601 UTC; null only for an attempt claimed before the history existed. */
  claimed_at: string | null;
  /** null (with outcome, reason and worker) while the attempt is still in flight. */
  finished_at: string | null;
  outcome: AttemptOutcome | null;
  reason: string | null;
  /** The calculator's Kafka client id, or `scheduler`. */
  worker: string | null;
}

export interface JobDetailView extends JobView {
  /** Oldest first; attempts older than `VALUATION_ATTEMPT_HISTORY_DAYS` are gone. */
  attempts: AttemptView[];
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

const isoOf = (expression: string, name: string) =>
  `to_char(${expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${name}`;

const COLUMNS = `j.id::text AS id, j.portfolio_id, j.security_id,
  to_char(j.valuation_date, 'YYYY-MM-DD') AS valuation_date, j.epoch, j.status, j.attempt_count,
  j.failure_reason, ${iso('next_attempt_at')}, j.correlation_id, ${iso('created_at')}, ${iso('updated_at')}`;

/**
 * Statements the operators' API runs at once. The scheduler's pool has 5 connections and its cycle
 * uses one at a time, so however many requests arrive (or however slow they are: a retry waiting on
 * a locked row), the cycle always finds a free connection.
 */
export const ADMIN_MAX_CONCURRENT = 2;
/** How long a request waits for one of those before it is refused (503). */
export const ADMIN_WAIT_MS = 1000;

/** The operators' API already runs {@link ADMIN_MAX_CONCURRENT} statements: try again shortly. */
export class AdminBusyError extends Error {
  constructor() {
    super(`the jobs API is busy (${ADMIN_MAX_CONCURRENT} requests in progress): try again shortly`);
  }
}

/** At most `max` tasks at once; a task that cannot start within `waitMs` is refused with AdminBusyError. */
export class ConcurrencyLimit {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly max: number,
    readonly waitMs: number,
  ) {}

  get inProgress(): number {
    return this.active;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.active < this.max) {
      this.active += 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(grant), 1);
        reject(new AdminBusyError());
      }, this.waitMs);
      this.waiting.push(grant);
    });
  }

  /** A freed slot goes straight to the longest waiter, so `active` never exceeds `max`. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active -= 1;
  }
}

/**
 * The one limit every statement of the operators' API runs under (job queries, audit records), so
 * together they never hold more than {@link ADMIN_MAX_CONCURRENT} of the scheduler's connections.
 */
@Injectable()
export class AdminStatementLimit extends ConcurrencyLimit {
  constructor() {
    super(ADMIN_MAX_CONCURRENT, ADMIN_WAIT_MS);
  }
}

/**
 * The operators' view of the job table: filtered listing and a manual retry. Every statement runs
 * under {@link ADMIN_MAX_CONCURRENT}, so the API can never take the cycle's connections.
 */
@Injectable()
export class JobsAdminRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly limit: AdminStatementLimit,
  ) {}

  /** Newest first. Filters are bound parameters; only the fixed clauses below are ever concatenated. */
  async list(filter: JobFilter): Promise<JobView[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (clause: (p: string) => string, value: unknown) => {
      params.push(value);
      where.push(clause(`$${params.length}`));
    };
    // One status is an equality, so the (status, id) index returns the page in order.
    if (filter.statuses?.length === 1) add((p) => `j.status = ${p}`, filter.statuses[0]);
    else if (filter.statuses?.length) add((p) => `j.status = ANY(${p}::text[])`, filter.statuses);
    if (filter.minAttempts !== undefined) add((p) => `j.attempt_count >= ${p}::int`, filter.minAttempts);
    if (filter.portfolioId !== undefined) add((p) => `j.portfolio_id = ${p}`, filter.portfolioId);
    if (filter.securityId !== undefined) add((p) => `j.security_id = ${p}`, filter.securityId);
    if (filter.from !== undefined) add((p) => `j.valuation_date >= ${p}::date`, filter.from);
    if (filter.to !== undefined) add((p) => `j.valuation_date <= ${p}::date`, filter.to);
    params.push(filter.limit, filter.offset);
    return this.limit.run(() =>
      this.ds.query<JobView[]>(
        `SELECT ${COLUMNS} FROM portfolio_valuation_jobs j
          ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
          ORDER BY j.id DESC
          LIMIT $${params.length - 1}::int OFFSET $${params.length}::int`,
        params,
      ),
    );
  }

  /**
   * One job with its attempt history, oldest first, in one statement (one snapshot): the ended
   * attempts from `valuation_job_attempts` through its (job_id, attempt) index, then the attempt in
   * flight, if the job is PROCESSING, from the job row itself. null: no such job.
   */
  async findWithAttempts(id: string): Promise<JobDetailView | null> {
    const [row] = await this.limit.run(() =>
      this.ds.query<{ job: JobView; attempts: AttemptView[] }[]>(
        `SELECT row_to_json(v) AS job,
                COALESCE((SELECT json_agg(a ORDER BY a.attempt, a.finished_at NULLS LAST) FROM (
                   SELECT h.attempt, ${isoOf('h.claimed_at', 'claimed_at')}, ${isoOf('h.finished_at', 'finished_at')},
                          h.outcome, h.reason, h.worker
                     FROM valuation_job_attempts h WHERE h.job_id = v.id::bigint
                   UNION ALL
                   SELECT j.attempt_seq, ${isoOf('j.attempt_started_at', 'claimed_at')}, NULL, NULL, NULL, NULL
                     FROM portfolio_valuation_jobs j
                    WHERE j.id = v.id::bigint AND j.status = 'PROCESSING' AND j.attempt_seq > 0) a),
                  '[]'::json) AS attempts
           FROM (SELECT ${COLUMNS} FROM portfolio_valuation_jobs j WHERE j.id = $1::bigint) v`,
        [id],
      ),
    );
    return row ? { ...row.job, attempts: row.attempts } : null;
  }

  /**
   * Makes a PENDING or FAILED job due now (attempt_count kept: it is the job's history). One
   * statement, so the answer describes the row as it was when the update decided.
   */
  async retry(id: string): Promise<RetryResult> {
    const [row] = await this.limit.run(() => this.retryStatement(id));
    if (!row) return { kind: 'not_found' };
    if (!row.job) return { kind: 'conflict', status: row.found_status };
    return { kind: 'retried', job: row.job };
  }

  private retryStatement(id: string) {
    return this.ds.query<{ found_status: JobStatus; job: JobView | null }[]>(
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
  }
}
