import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The outbox keeps each payload as the text the messaging contract's builder made (`json`, not
 * `jsonb`): the relay sends that text as the message value, byte for byte, and neither the insert nor
 * the relay's read converts it to and from the binary form. Nothing queries inside a payload on the
 * hot path; `->>` works on `json` as on `jsonb`, but parses the text on every call, so a query that
 * reads inside many payloads should do it once per row (not in a per-row subquery).
 */
export class OutboxPayloadJson1765200000000 implements MigrationInterface {
  name = 'OutboxPayloadJson1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE valuation_outbox ALTER COLUMN payload TYPE json USING payload::json`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE valuation_outbox ALTER COLUMN payload TYPE jsonb USING payload::jsonb`);
  }
}
