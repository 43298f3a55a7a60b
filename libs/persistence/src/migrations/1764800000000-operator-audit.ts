import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The audit trail of the operators' API (contract §9): one row per POST, allowed or refused with 403.
 * Rows are only ever inserted (and an attempt's outcome set once); nothing in the apps deletes them.
 */
export class OperatorAudit1764800000000 implements MigrationInterface {
  name = 'OperatorAudit1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE operator_audit (
        id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at        timestamptz NOT NULL DEFAULT now(),
        principal text NOT NULL,
        role      text NOT NULL,
        action    text NOT NULL,
        target    jsonb NOT NULL DEFAULT '{}'::jsonb,
        outcome   text NOT NULL,
        detail    text
      )`);
    await q.query(`CREATE INDEX operator_audit_at_idx ON operator_audit (at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS operator_audit`);
  }
}
