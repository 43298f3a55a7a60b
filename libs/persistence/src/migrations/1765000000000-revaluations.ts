import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Revaluations (contract §9, `POST /revaluations`, `npm run revalue`): an operator's request to re-open
 * the settled current-epoch jobs of a portfolio and/or security over a date range. The request is kept
 * in `valuation_revaluations` (never deleted by the apps: it is the record of who asked what, and why);
 * the work is a `valuation_triggers` row of kind REVALUATION pointing at it, which the scheduler's
 * fan-out step works through in bounded chunks with its cursor, like a price or FX arrival. Retention
 * may delete that trigger once completed; the request row keeps `completed_at` and `jobs_reopened`.
 */
export class Revaluations1765000000000 implements MigrationInterface {
  name = 'Revaluations1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE valuation_revaluations (
        id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        portfolio_id  TEXT,
        security_id   TEXT,
        from_date     DATE NOT NULL,
        to_date       DATE NOT NULL,
        reason        TEXT NOT NULL,
        requested_by  TEXT NOT NULL,
        created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
        -- jobs re-opened so far (the fan-out step adds each chunk's count)
        jobs_reopened BIGINT NOT NULL DEFAULT 0,
        -- set when the trigger's cursor has passed every job of the scope: DONE
        completed_at  TIMESTAMPTZ,
        CONSTRAINT valuation_revaluations_scope_check CHECK (portfolio_id IS NOT NULL OR security_id IS NOT NULL),
        CONSTRAINT valuation_revaluations_range_check CHECK (from_date <= to_date)
      );
      -- the gauge valuation_revaluations_running
      CREATE INDEX valuation_revaluations_running_idx ON valuation_revaluations (id) WHERE completed_at IS NULL;

      ALTER TABLE valuation_triggers
        ADD COLUMN revaluation_id BIGINT REFERENCES valuation_revaluations (id),
        DROP CONSTRAINT valuation_triggers_kind_check,
        DROP CONSTRAINT valuation_triggers_check,
        ADD CONSTRAINT valuation_triggers_kind_check CHECK (kind IN ('PRICE','FX','REVALUATION')),
        ADD CONSTRAINT valuation_triggers_check CHECK (
          (kind = 'PRICE' AND security_id IS NOT NULL) OR
          (kind = 'FX' AND from_currency IS NOT NULL AND to_currency IS NOT NULL) OR
          (kind = 'REVALUATION' AND revaluation_id IS NOT NULL));
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DELETE FROM valuation_triggers WHERE kind = 'REVALUATION';
      ALTER TABLE valuation_triggers
        DROP CONSTRAINT valuation_triggers_check,
        DROP CONSTRAINT valuation_triggers_kind_check,
        DROP COLUMN revaluation_id,
        ADD CONSTRAINT valuation_triggers_kind_check CHECK (kind IN ('PRICE','FX')),
        ADD CONSTRAINT valuation_triggers_check CHECK (
          (kind = 'PRICE' AND security_id IS NOT NULL) OR
          (kind = 'FX' AND from_currency IS NOT NULL AND to_currency IS NOT NULL));
      DROP TABLE valuation_revaluations;
    `);
  }
}
