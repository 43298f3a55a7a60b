import type { EntityManager } from 'typeorm';
import { formatAmount, type Dec, type FinishedAttempt, type Snapshot } from '@app/valuation';
import { writeSnapshotEvents, type WrittenSnapshot } from './snapshot-events';

const amount = (d: Dec | null) => (d === null ? null : formatAmount(d));

/**
 * One statement for the whole batch: finish each job only while the attempt still holds its claim
 * (the row lock re-checks the claim, so a re-issued claim makes the stale worker write nothing), then
 * upsert the snapshots of the jobs that were finished and write one row of attempt history per finished
 * job. The history row takes its number and claim time from the job row as the claim left it
 * (`attempt_seq`, `attempt_started_at`); a claimless request starts its attempt here, so it numbers it
 * and stamps it now. Returns one row per finished job, with its snapshot when it wrote one: the
 * snapshots' outbox events follow in a second statement of the same transaction (snapshot-events.ts).
 */
const SQL = `
  WITH i AS (
    SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::float8[], $7::text[],
                         $8::text[], $9::bool[], $10::numeric[], $11::numeric[], $12::numeric[], $13::numeric[],
                         $14::numeric[], $15::numeric[], $16::numeric[], $17::numeric[], $18::text[], $19::text[],
                         $20::text[])
      AS i(job_id, claim_token, status, attempt_count, failure_reason, delay_seconds, waiting_on,
           correlation_id, has_snapshot, quantity, cost_basis, cost_basis_local, market_price, market_value,
           market_value_local, unrealized_gain_loss, unrealized_gain_loss_local, valuation_status, snapshot_reason,
           outcome)),
  finished AS (
    UPDATE portfolio_valuation_jobs j
       SET status = i.status, attempt_count = i.attempt_count, failure_reason = i.failure_reason,
           next_attempt_at = CASE WHEN i.delay_seconds IS NULL THEN NULL
                                  ELSE now() + make_interval(secs => i.delay_seconds) END,
           waiting_on = i.waiting_on, correlation_id = COALESCE(i.correlation_id, j.correlation_id),
           claim_token = NULL, claim_expires_at = NULL, updated_at = now(),
           attempt_seq = j.attempt_seq + (i.claim_token IS NULL)::int,
           attempt_started_at = CASE WHEN i.claim_token IS NULL THEN now() ELSE j.attempt_started_at END
      FROM i
     WHERE j.id = i.job_id
       AND CASE WHEN i.claim_token IS NULL
                THEN j.status = 'PENDING' AND COALESCE(j.next_attempt_at, j.created_at) <= now()
                ELSE j.status = 'PROCESSING' AND j.claim_token = i.claim_token END
    RETURNING j.id, j.portfolio_id, j.security_id, j.valuation_date, j.epoch, j.attempt_seq, j.attempt_started_at),
  snap AS (
    INSERT INTO daily_position_snapshots AS s
           (portfolio_id, security_id, date, epoch, quantity, cost_basis, cost_basis_local, market_price,
            market_value, market_value_local, unrealized_gain_loss, unrealized_gain_loss_local,
            valuation_status, failure_reason)
    SELECT f.portfolio_id, f.security_id, f.valuation_date, f.epoch, i.quantity, i.cost_basis, i.cost_basis_local,
           i.market_price, i.market_value, i.market_value_local, i.unrealized_gain_loss,
           i.unrealized_gain_loss_local, i.valuation_status, i.snapshot_reason
      FROM finished f JOIN i ON i.job_id = f.id
     WHERE i.has_snapshot
    ON CONFLICT (portfolio_id, security_id, date, epoch) DO UPDATE
       SET quantity = EXCLUDED.quantity, cost_basis = EXCLUDED.cost_basis,
           cost_basis_local = EXCLUDED.cost_basis_local, market_price = EXCLUDED.market_price,
           market_value = EXCLUDED.market_value, market_value_local = EXCLUDED.market_value_local,
           unrealized_gain_loss = EXCLUDED.unrealized_gain_loss,
           unrealized_gain_loss_local = EXCLUDED.unrealized_gain_loss_local,
           valuation_status = EXCLUDED.valuation_status, failure_reason = EXCLUDED.failure_reason,
           updated_at = now()
    RETURNING s.id, s.portfolio_id, s.security_id, s.date, s.epoch, s.valuation_status),
  history AS (
    INSERT INTO valuation_job_attempts (job_id, attempt, claim_token, claimed_at, outcome, reason, worker)
    SELECT f.id, f.attempt_seq, i.claim_token, f.attempt_started_at, i.outcome, i.failure_reason, $21
      FROM finished f JOIN i ON i.job_id = f.id
    RETURNING id)
  SELECT f.id::text AS id, snap.id::text AS snapshot_id, snap.portfolio_id, snap.security_id,
         to_char(snap.date, 'YYYY-MM-DD') AS date, snap.epoch, snap.valuation_status
    FROM finished f
    LEFT JOIN snap ON (snap.portfolio_id, snap.security_id, snap.date, snap.epoch)
                    = (f.portfolio_id, f.security_id, f.valuation_date, f.epoch)`;

/** A finished job, and the snapshot it wrote (all null when it wrote none). */
type FinishedRow = { id: string } & (WrittenSnapshot | { [K in keyof WrittenSnapshot]: null });

export async function writeFinishedAttempts(
  manager: EntityManager,
  attempts: readonly FinishedAttempt[],
  snapshotTopic: string,
  worker: string,
): Promise<Set<string>> {
  if (attempts.length === 0) return new Set();
  const col = <T>(f: (a: FinishedAttempt) => T) => attempts.map(f);
  const snap = <T>(f: (s: Snapshot) => T) => col((a) => (a.snapshot ? f(a.snapshot) : null));
  const rows = await manager.query<FinishedRow[]>(SQL, [
    col((a) => a.jobId),
    col((a) => a.claimToken),
    col((a) => a.transition.status),
    col((a) => a.transition.attemptCount),
    col((a) => a.transition.failureReason),
    col((a) => a.transition.delaySeconds),
    col((a) => a.waitingOnKey),
    col((a) => a.correlationId),
    col((a) => a.snapshot !== null),
    snap((s) => amount(s.quantity)),
    snap((s) => amount(s.costBasis)),
    snap((s) => amount(s.costBasisLocal)),
    snap((s) => amount(s.marketPrice)),
    snap((s) => amount(s.marketValue)),
    snap((s) => amount(s.marketValueLocal)),
    snap((s) => amount(s.unrealizedGainLoss)),
    snap((s) => amount(s.unrealizedGainLossLocal)),
    snap((s) => s.valuationStatus),
    snap((s) => s.failureReason),
    col((a) => a.transition.outcome),
    worker,
  ]);
  const written = rows.flatMap((r) => (r.snapshot_id === null ? [] : [r]));
  await writeSnapshotEvents(manager, snapshotTopic, written);
  return new Set(rows.map((r) => r.id));
}
