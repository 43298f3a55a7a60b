import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Scheduler leadership as a lease on one row instead of a session advisory lock: a lock lives as long
 * as its session, so a leader frozen with its connection open (SIGSTOP, a long GC pause, a stalled VM)
 * kept it for ever. The row says who leads (`term` grows with every change of leader), from which
 * backend (`holder_pid`, so a standby sees at once that a dead leader's session is gone) and until
 * when (`expires_at`, renewed by the leader every poll).
 */
export class SchedulerLeaderLease1764500000000 implements MigrationInterface {
  name = 'SchedulerLeaderLease1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE valuation_scheduler_leader (
        id SMALLINT PRIMARY KEY CHECK (id = 1),
        term BIGINT NOT NULL DEFAULT 0,
        holder TEXT,
        holder_pid INTEGER,
        expires_at TIMESTAMPTZ NOT NULL DEFAULT '-infinity'
      );
      INSERT INTO valuation_scheduler_leader (id) VALUES (1);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE valuation_scheduler_leader`);
  }
}
