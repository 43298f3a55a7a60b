import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/**
 * Deletes, oldest first, at most `$2` rows that are done and older than `$1` seconds by the database
 * clock. The sub-select walks a partial index on the "done" timestamp from its oldest end and stops
 * after `$2` rows (RetentionIndexes1764600000000); the delete then takes those rows by primary key.
 * `id = ANY (ARRAY(…))` rather than a join or `IN`: the planner cannot turn it into a merge join that
 * walks the whole primary key. So a purge never scans the table, and one with nothing to delete is a
 * single index probe. SKIP LOCKED: a row someone holds is left for next cycle rather than waited on.
 */
function purgeSql(table: string, doneAt: string): string {
  return `
    WITH purged AS (
      DELETE FROM ${table}
       WHERE id = ANY (ARRAY(
               SELECT id FROM ${table}
                WHERE ${doneAt} IS NOT NULL AND ${doneAt} < now() - make_interval(secs => $1::float8)
                ORDER BY ${doneAt}
                LIMIT $2::int
                FOR UPDATE SKIP LOCKED))
         AND ${doneAt} IS NOT NULL
      RETURNING 1)
    SELECT count(*)::int AS n FROM purged`;
}

// An event is done once the relay marked it published (after the broker's ack). An unpublished one,
// leased or not, has published_at NULL and is never touched, and nothing ever clears published_at.
const PURGE_OUTBOX = purgeSql('valuation_outbox', 'published_at');

// A trigger is done once its fan-out completed. The fan-out reads and locks only triggers with
// completed_at NULL and treats a trigger that is gone as completed, and nothing ever re-opens one.
const PURGE_TRIGGERS = purgeSql('valuation_triggers', 'completed_at');

// An attempt's history row is written once, when the attempt ended (finished_at, never null), and is
// only ever read after that (JobAttempts1764900000000 indexes finished_at).
const PURGE_ATTEMPTS = purgeSql('valuation_job_attempts', 'finished_at');

/**
 * The scheduler's retention: rows the pipeline needs only for a while (published outbox events,
 * finished fan-out triggers) are deleted in bounded batches once they are older than the retention.
 */
@Injectable()
export class RetentionRepository {
  constructor(private readonly ds: DataSource) {}

  /** Deletes up to `limit` outbox events published more than `olderThanSeconds` ago; returns how many. */
  async purgePublishedEvents(olderThanSeconds: number, limit: number): Promise<number> {
    return this.purge(PURGE_OUTBOX, olderThanSeconds, limit);
  }

  /** Deletes up to `limit` fan-out triggers completed more than `olderThanSeconds` ago; returns how many. */
  async purgeCompletedTriggers(olderThanSeconds: number, limit: number): Promise<number> {
    return this.purge(PURGE_TRIGGERS, olderThanSeconds, limit);
  }

  /** Deletes up to `limit` attempt-history rows of attempts that ended more than `olderThanSeconds` ago. */
  async purgeAttemptHistory(olderThanSeconds: number, limit: number): Promise<number> {
    return this.purge(PURGE_ATTEMPTS, olderThanSeconds, limit);
  }

  private async purge(sql: string, olderThanSeconds: number, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    const [row] = await this.ds.query<{ n: number }[]>(sql, [olderThanSeconds, limit]);
    return row.n;
  }
}
