import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Room on each outbox page for the relay's lease. The lease changes only `relay_token` and
 * `relay_lease_until`, which no index reads, so PostgreSQL can write the new row version on the same
 * page without touching the indexes (a HOT update), but only when the page has room: inserts fill
 * pages to 100 % by default, and every lease then wrote a version elsewhere and an entry in each
 * index. The published mark still touches the indexes (both partial indexes name `published_at`).
 * Only pages written from now on get the room; retention replaces the table's pages within a day.
 * Measured in docs/benchmarks.md ("Issue 14: the outbox's cost per event").
 */
export class OutboxFillfactor1765100000000 implements MigrationInterface {
  name = 'OutboxFillfactor1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE valuation_outbox SET (fillfactor = 50)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE valuation_outbox RESET (fillfactor)`);
  }
}
