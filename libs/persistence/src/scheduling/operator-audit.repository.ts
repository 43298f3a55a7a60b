import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AdminStatementLimit } from './jobs-admin.repository';

/** What an operator's request came to (contract §9); `started` until the action's outcome is known. */
export type AuditOutcome =
  'started' | 'ok' | 'forbidden' | 'not_found' | 'conflict' | 'bad_request' | 'unavailable' | 'error';

export interface AuditEntry {
  principal: string;
  role: string;
  /** e.g. `jobs.retry` */
  action: string;
  /** e.g. `{"job_id": "123"}`: strings without NUL, which jsonb cannot hold. */
  target: Record<string, string>;
  outcome: AuditOutcome;
  detail: string;
}

/** The `operator_audit` table: rows are inserted and their outcome set once, never deleted here. */
@Injectable()
export class OperatorAuditRepository {
  constructor(
    private readonly ds: DataSource,
    private readonly limit: AdminStatementLimit,
  ) {}

  /**
   * One row; its id. Under the operators' API statement limit, so a flood of requests cannot take
   * the cycle's connections (a request that cannot get a slot in time gets AdminBusyError).
   */
  async insert(entry: AuditEntry): Promise<string> {
    const [row] = await this.limit.run(() =>
      this.ds.query<{ id: string }[]>(
        `INSERT INTO operator_audit (principal, role, action, target, outcome, detail)
         VALUES ($1, $2, $3, $4::jsonb, $5, $6) RETURNING id::text AS id`,
        [
          entry.principal,
          entry.role,
          entry.action,
          JSON.stringify(entry.target),
          entry.outcome,
          entry.detail,
        ],
      ),
    );
    return row.id;
  }

  /**
   * Sets the outcome of a `started` row once its action has run. Not under the limit: the action has
   * already happened, and waiting for a slot could only fail to record it; it is one update by primary
   * key of a row no one else writes, bounded by the statement timeout.
   */
  async settle(id: string, outcome: AuditOutcome, detail: string): Promise<void> {
    await this.ds.query(
      `UPDATE operator_audit SET outcome = $2, detail = $3 WHERE id = $1::bigint AND outcome = 'started'`,
      [id, outcome, detail],
    );
  }
}
