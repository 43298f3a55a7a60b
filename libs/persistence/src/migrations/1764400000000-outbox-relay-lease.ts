import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox relay leases events before sending them instead of holding a transaction open across the
 * send: a database that goes away between the broker's ack and the mark then leaves the lease in
 * place, and no other relay sends those events again (OutboxRepository).
 */
export class OutboxRelayLease1764400000000 implements MigrationInterface {
  name = 'OutboxRelayLease1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE valuation_outbox
        ADD COLUMN relay_token UUID,
        ADD COLUMN relay_lease_until TIMESTAMPTZ;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE valuation_outbox
        DROP COLUMN relay_lease_until,
        DROP COLUMN relay_token;
    `);
  }
}
