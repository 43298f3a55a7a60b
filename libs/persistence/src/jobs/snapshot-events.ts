import type { EntityManager } from 'typeorm';
import { buildSnapshotPersisted } from '@app/messaging';
import type { ValuationStatus } from '@app/valuation';

/** A snapshot as the outcome writer's statement returns it once upserted: what its event carries. */
export interface WrittenSnapshot {
  /** The row's bigint id, as text. */
  snapshot_id: string;
  portfolio_id: string;
  security_id: string;
  /** YYYY-MM-DD. */
  date: string;
  epoch: number;
  valuation_status: ValuationStatus;
}

const INSERT_EVENTS = `
  INSERT INTO valuation_outbox (topic, message_key, payload)
  SELECT $1, e.message_key, e.payload FROM unnest($2::text[], $3::json[]) AS e(message_key, payload)`;

/**
 * Writes one `daily_position_snapshot_persisted` event per snapshot to the outbox, in the caller's
 * transaction, so a snapshot and its event commit together (contract §6). The payload is the messaging
 * contract's builder's, the one definition of the event; the id is known only after the upsert, hence
 * a second statement. The relay publishes the payload's text as stored (a `json` column).
 */
export async function writeSnapshotEvents(
  manager: EntityManager,
  topic: string,
  snapshots: readonly WrittenSnapshot[],
): Promise<void> {
  if (snapshots.length === 0) return;
  const events = snapshots.map((s) =>
    buildSnapshotPersisted({
      // A JSON number, as the event has always carried it (the relay's JSON.parse makes it one anyway).
      id: Number(s.snapshot_id),
      portfolio_id: s.portfolio_id,
      security_id: s.security_id,
      date: s.date,
      epoch: s.epoch,
      valuation_status: s.valuation_status,
    }),
  );
  await manager.query(INSERT_EVENTS, [topic, events.map((e) => e.key), events.map((e) => e.value)]);
}
