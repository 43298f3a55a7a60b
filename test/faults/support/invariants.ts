import type { KafkaMessage } from 'kafkajs';
import type { Pool } from 'pg';
import {
  parseSnapshotPersisted,
  snapshotPersistedSchema,
  type SnapshotPersistedMessage,
} from '@app/messaging';

/**
 * THE INVARIANT CHECK every fault scenario ends with (contract §4: at-least-once delivery, effects once).
 *
 * 1. Every job is settled or waiting: COMPLETE, FAILED, SKIPPED_*, or PENDING with a failure_reason
 *    and a next_attempt_at. Nothing is left PROCESSING or due without a reason.
 * 2. Every COMPLETE job has exactly one snapshot of its epoch, and its values are the ones recomputed
 *    here in SQL from the seeded rows (latest position, price and direct FX rate on or before the
 *    date), compared exactly as NUMERIC(28,10) strings.
 * 3. Snapshot events: the outbox holds exactly one event per applied valuation, and the topic holds
 *    exactly the outbox's events. An event's identity is its whole payload (snapshot id, key, date,
 *    epoch, valuation_status): a snapshot valued twice legitimately has two equal events, so the
 *    topic and the outbox are compared as multisets. Topic copies beyond the outbox's count are
 *    re-sends (duplicates), counted and reported; whether they are tolerated is the scenario's call.
 */

/** How many snapshot events the scenario applied. */
export type AppliedValuations =
  /** Each snapshot was written by exactly one applied valuation (no job valued twice). */
  | { kind: 'one-per-snapshot' }
  /** Counted independently, e.g. from the calculators' `valuation_jobs_processed_total`. */
  | { kind: 'counted'; count: number };

export interface InvariantReport {
  jobs: number;
  byStatus: Record<string, number>;
  unsettled: number;
  completeWithoutSnapshot: number;
  wrongValues: number;
  snapshots: number;
  outboxEvents: number;
  unpublishedEvents: number;
  appliedValuations: number | null;
  topicEvents: number;
  distinctTopicEvents: number;
  /** distinct (id, valuation_status) on the topic, as an operator would dedupe. */
  distinctIdStatus: number;
  duplicatesOnTopic: number;
  missingFromTopic: number;
  unknownOnTopic: number;
  samples: string[];
}

const STATES_SQL = `
  SELECT status, count(*)::int AS n,
         count(*) FILTER (WHERE NOT (status IN ('COMPLETE', 'FAILED', 'SKIPPED_NO_POSITION', 'SKIPPED_SUPERSEDED')
                                     OR (status = 'PENDING' AND failure_reason IS NOT NULL
                                         AND next_attempt_at IS NOT NULL)))::int AS unsettled
    FROM portfolio_valuation_jobs GROUP BY status`;

/** Expected snapshot of every COMPLETE job, recomputed from the inputs, joined to the stored one. */
const VALUES_SQL = `
  WITH e AS (
    SELECT j.id AS job_id, j.portfolio_id, j.security_id, j.valuation_date, j.epoch,
           pos.quantity, pos.cost_basis, pos.cost_basis_local, mp.price, mp.price_date,
           CASE WHEN ins.currency = pf.base_currency THEN 1::numeric ELSE fx.rate END AS fx
      FROM portfolio_valuation_jobs j
      JOIN portfolios pf ON pf.portfolio_id = j.portfolio_id
      JOIN instruments ins ON ins.security_id = j.security_id
      LEFT JOIN LATERAL (
        SELECT h.quantity, h.cost_basis, h.cost_basis_local FROM position_history h
         WHERE h.portfolio_id = j.portfolio_id AND h.security_id = j.security_id AND h.epoch = j.epoch
           AND h.position_date <= j.valuation_date
         ORDER BY h.position_date DESC, h.id DESC LIMIT 1) pos ON true
      LEFT JOIN LATERAL (
        SELECT m.price, m.price_date FROM market_prices m
         WHERE m.security_id = j.security_id AND m.price_date <= j.valuation_date
         ORDER BY m.price_date DESC LIMIT 1) mp ON true
      LEFT JOIN LATERAL (
        SELECT f.rate FROM fx_rates f
         WHERE f.from_currency = ins.currency AND f.to_currency = pf.base_currency
           AND f.rate_date <= j.valuation_date
         ORDER BY f.rate_date DESC LIMIT 1) fx ON true
     WHERE j.status = 'COMPLETE'),
  x AS (
    SELECT e.*, s.id AS snapshot_id,
           jsonb_build_object(
             'quantity', s.quantity::text, 'market_price', s.market_price::text,
             'market_value_local', s.market_value_local::text, 'market_value', s.market_value::text,
             'unrealized_gain_loss_local', s.unrealized_gain_loss_local::text,
             'unrealized_gain_loss', s.unrealized_gain_loss::text, 'valuation_status', s.valuation_status)
             AS got,
           jsonb_build_object(
             'quantity', e.quantity::numeric(28,10)::text, 'market_price', e.price::numeric(28,10)::text,
             'market_value_local', (e.quantity * e.price)::numeric(28,10)::text,
             'market_value', (e.quantity * e.price * e.fx)::numeric(28,10)::text,
             'unrealized_gain_loss_local', (e.quantity * e.price - e.cost_basis_local)::numeric(28,10)::text,
             'unrealized_gain_loss', (e.quantity * e.price * e.fx - e.cost_basis)::numeric(28,10)::text,
             'valuation_status', CASE WHEN e.price_date = e.valuation_date THEN 'VALUED_CURRENT'
                                      ELSE 'VALUED_STALE' END)
             AS want
      FROM e
      LEFT JOIN daily_position_snapshots s
        ON s.portfolio_id = e.portfolio_id AND s.security_id = e.security_id
       AND s.date = e.valuation_date AND s.epoch = e.epoch)
  SELECT count(*) FILTER (WHERE snapshot_id IS NULL)::int AS missing,
         count(*) FILTER (WHERE snapshot_id IS NOT NULL AND got IS DISTINCT FROM want)::int AS wrong,
         (array_agg(job_id::text || ': got ' || got::text || ' want ' || want::text)
            FILTER (WHERE snapshot_id IS NOT NULL AND got IS DISTINCT FROM want))[1:3] AS samples
    FROM x`;

/**
 * Outbox events per snapshot; a snapshot without an event, or an event without a snapshot, shows up too.
 * One pass over the outbox (grouped by the event's id), not a probe per snapshot: the payload is json
 * text, and parsing every event once per snapshot made this quadratic (minutes for 12,000 jobs).
 */
const OUTBOX_SQL = `
  SELECT (SELECT count(*) FROM daily_position_snapshots)::int AS snapshots,
         (SELECT count(*) FROM valuation_outbox)::int AS events,
         (SELECT count(*) FROM valuation_outbox WHERE published_at IS NULL)::int AS unpublished,
         (SELECT count(*) FROM daily_position_snapshots s
            LEFT JOIN (SELECT (payload->>'id')::bigint AS id, count(*) AS n FROM valuation_outbox GROUP BY 1) o
              ON o.id = s.id
           WHERE o.n IS DISTINCT FROM 1)::int AS not_one_event`;

/** The payload's identity, independent of key order and of how it was serialised. */
export function eventIdentity(payload: SnapshotPersistedMessage): string {
  const { id, portfolio_id, security_id, date, epoch, valuation_status } = payload;
  return JSON.stringify([String(id), portfolio_id, security_id, date, epoch, valuation_status]);
}

function countBy(keys: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return counts;
}

export async function collectInvariants(
  db: Pool,
  readTopic: () => Promise<KafkaMessage[]>,
  applied: AppliedValuations,
): Promise<InvariantReport> {
  const states = await db.query<{ status: string; n: number; unsettled: number }>(STATES_SQL);
  const byStatus = Object.fromEntries(states.rows.map((r) => [r.status, r.n]));
  const values = (await db.query<{ missing: number; wrong: number; samples: string[] | null }>(VALUES_SQL))
    .rows[0];
  const outbox = (
    await db.query<{ snapshots: number; events: number; unpublished: number; not_one_event: number }>(
      OUTBOX_SQL,
    )
  ).rows[0];
  // Every event, stored or published, must meet the contract: parsing throws on one that does not.
  const outboxPayloads = (
    await db.query<{ payload: unknown }>(`SELECT payload FROM valuation_outbox`)
  ).rows.map((r) => ({ payload: snapshotPersistedSchema.parse(r.payload) }));
  // Read after the database: on a quiet system the topic then holds at least what the outbox does.
  const topicMessages = await readTopic();

  const inOutbox = countBy(outboxPayloads.map((r) => eventIdentity(r.payload)));
  const topicPayloads = topicMessages.map((m) => parseSnapshotPersisted(m.value));
  const onTopic = countBy(topicPayloads.map(eventIdentity));
  let duplicates = 0;
  let missing = 0;
  let unknown = 0;
  const samples = [...(values.samples ?? [])];
  for (const [identity, n] of onTopic) {
    const expected = inOutbox.get(identity) ?? 0;
    if (expected === 0) unknown += n;
    else if (n > expected) {
      duplicates += n - expected;
      if (samples.length < 6) samples.push(`re-sent ${n - expected}x: ${identity}`);
    }
  }
  for (const [identity, n] of inOutbox) missing += Math.max(0, n - (onTopic.get(identity) ?? 0));
  if (applied.kind === 'one-per-snapshot' && outbox.not_one_event > 0)
    samples.push(`${outbox.not_one_event} snapshots do not have exactly one outbox event`);

  return {
    jobs: states.rows.reduce((sum, r) => sum + r.n, 0),
    byStatus,
    unsettled: states.rows.reduce((sum, r) => sum + r.unsettled, 0),
    completeWithoutSnapshot: values.missing,
    wrongValues: values.wrong,
    snapshots: outbox.snapshots,
    outboxEvents: outbox.events,
    unpublishedEvents: outbox.unpublished,
    appliedValuations:
      applied.kind === 'counted' ? applied.count : outbox.not_one_event === 0 ? outbox.snapshots : null,
    topicEvents: topicMessages.length,
    distinctTopicEvents: onTopic.size,
    distinctIdStatus: new Set(topicPayloads.map((p) => `${String(p.id)}/${String(p.valuation_status)}`)).size,
    duplicatesOnTopic: duplicates,
    missingFromTopic: missing,
    unknownOnTopic: unknown,
    samples,
  };
}

export interface InvariantExpectations {
  /** Jobs that must exist at the end (nothing lost, nothing invented). */
  jobs: number;
  /**
   * `forbidden` (default): any re-sent event fails the check. `reported`: only for a relay killed
   * between the broker's ack and its database commit (SIGKILL), where the outbox relay is
   * at-least-once by design; the copies are counted and printed, and suppressed like a consumer
   * deduplicating on the payload would.
   */
  resends?: 'forbidden' | 'reported';
}

/** The violations of the invariant, as readable lines; a green scenario has none. */
export function violations(r: InvariantReport, expected: InvariantExpectations): string[] {
  const v: string[] = [];
  if (r.jobs !== expected.jobs) v.push(`${r.jobs} jobs exist, ${expected.jobs} were created`);
  if (r.unsettled) v.push(`${r.unsettled} jobs neither settled nor waiting with a reason and a due time`);
  if (r.completeWithoutSnapshot) v.push(`${r.completeWithoutSnapshot} COMPLETE jobs have no snapshot`);
  if (r.wrongValues) v.push(`${r.wrongValues} snapshots differ from the recomputed values`);
  if (r.unpublishedEvents) v.push(`${r.unpublishedEvents} outbox events never published`);
  if (r.appliedValuations === null) v.push('some snapshots do not have exactly one outbox event');
  else if (r.outboxEvents !== r.appliedValuations)
    v.push(`${r.outboxEvents} outbox events for ${r.appliedValuations} applied valuations`);
  if (r.missingFromTopic) v.push(`${r.missingFromTopic} outbox events missing from the topic`);
  if (r.unknownOnTopic) v.push(`${r.unknownOnTopic} topic events that no outbox row produced`);
  if (r.duplicatesOnTopic && expected.resends !== 'reported')
    v.push(`${r.duplicatesOnTopic} outbox events re-sent to the topic`);
  return v.length ? [...v, ...r.samples] : [];
}
