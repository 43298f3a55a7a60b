import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indexes for the retention purge (RetentionRepository): published outbox events by when they were
 * published, finished fan-out triggers by when they finished, so each purge reads only the oldest rows
 * it deletes and a purge with nothing to do is one index probe, however large the tables are.
 *
 * Built CONCURRENTLY, outside a transaction: on a deployment whose outbox grew for months a plain
 * CREATE INDEX would block the calculators' outbox inserts for the whole build. A build that failed
 * half-way leaves an invalid index behind, so each one is dropped first (the migration only runs
 * while it is not recorded as applied).
 */
export class RetentionIndexes1764600000000 implements MigrationInterface {
  name = 'RetentionIndexes1764600000000';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    // One statement per query: several in one string would run as one implicit transaction.
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS valuation_outbox_published_idx`);
    await q.query(
      `CREATE INDEX CONCURRENTLY valuation_outbox_published_idx
         ON valuation_outbox (published_at) WHERE published_at IS NOT NULL`,
    );
    await q.query(`DROP INDEX CONCURRENTLY IF EXISTS valuation_triggers_completed_idx`);
    await q.query(
      `CREATE INDEX CONCURRENTLY valuation_triggers_completed_idx
         ON valuation_triggers (completed_at) WHERE completed_at IS NOT NULL`,
    );
  }

  // TypeORM reverts a migration inside a transaction whatever `transaction` says, so no CONCURRENTLY
  // here: dropping an index holds the table's lock only for a moment.
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS valuation_triggers_completed_idx`);
    await q.query(`DROP INDEX IF EXISTS valuation_outbox_published_idx`);
  }
}
