import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AdminStatementLimit } from './jobs-admin.repository';

/** Groups `GET /missing-data` answers at most: the biggest gaps first, the tail left off. */
export const MISSING_DATA_MAX_GROUPS = 500;

interface Waiting {
  from: string;
  to: string;
  jobs: number;
  max_attempts: number;
  /** The earliest created_at among the group's jobs (see {@link MissingDataRepository.list}). */
  waiting_since: string;
}
export type MissingPrice = { kind: 'price'; security_id: string } & Waiting;
export type MissingFx = { kind: 'fx'; from_currency: string; to_currency: string } & Waiting;
export type MissingData = MissingPrice | MissingFx;

interface Row {
  waiting_on: string;
  from: string;
  to: string;
  jobs: string;
  max_attempts: number;
  waiting_since: string;
}

/** What PENDING jobs wait for (contract §9, `GET /missing-data`), for the operators' API. */
@Injectable()
export class MissingDataRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly limit: AdminStatementLimit,
  ) {}

  /**
   * One row per price or currency pair waited on, most jobs first (then by key, so the order is
   * stable), at most {@link MISSING_DATA_MAX_GROUPS}. It reads only the waiting jobs, through the
   * partial index valuation_jobs_waiting_idx (status = 'PENDING' AND waiting_on IS NOT NULL).
   *
   * `waiting_since` is min(created_at): a job waits from its creation until its data arrives, and
   * updated_at cannot say it since every attempt that finds the data still missing, and every
   * wake-up, rewrites it. A job re-opened later (fan-out, a retry) keeps its created_at, so for such
   * a job it is earlier than the wait really began: read it as "outstanding since". An FX pair is
   * stored unordered (waitingOnKey), so from_currency/to_currency come in alphabetical order.
   */
  async list(): Promise<MissingData[]> {
    const rows = await this.limit.run(() =>
      this.ds.query<Row[]>(
        `SELECT waiting_on, to_char(min(valuation_date), 'YYYY-MM-DD') AS "from",
                to_char(max(valuation_date), 'YYYY-MM-DD') AS "to", count(*) AS jobs,
                max(attempt_count) AS max_attempts,
                to_char(min(created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS waiting_since
           FROM portfolio_valuation_jobs
          WHERE status = 'PENDING' AND waiting_on IS NOT NULL
          GROUP BY waiting_on
          ORDER BY count(*) DESC, waiting_on
          LIMIT $1`,
        [MISSING_DATA_MAX_GROUPS],
      ),
    );
    return rows.flatMap((r): MissingData[] => {
      const waiting: Waiting = {
        from: r.from,
        to: r.to,
        jobs: Number(r.jobs),
        max_attempts: r.max_attempts,
        waiting_since: r.waiting_since,
      };
      if (r.waiting_on.startsWith('PRICE:')) {
        return [{ kind: 'price' as const, security_id: r.waiting_on.slice('PRICE:'.length), ...waiting }];
      }
      const pair = /^FX:([^/]+)\/([^/]+)$/.exec(r.waiting_on);
      if (pair) return [{ kind: 'fx' as const, from_currency: pair[1], to_currency: pair[2], ...waiting }];
      return []; // a value no writer of ours produces
    });
  }
}
