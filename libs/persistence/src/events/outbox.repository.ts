import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface OutboxEvent {
  id: string;
  topic: string;
  key: string;
  /** The payload's text as the builder made it (a `json` column): the message value, sent as it is. */
  value: string;
}

/** Events the broker acknowledged, under the lease they were sent with. */
export interface SentEvents {
  token: string;
  ids: string[];
}

/** The broker acknowledged these events of a lease, but the database failed before they were marked. */
export class SentButNotMarkedError extends Error {
  constructor(
    readonly sent: SentEvents,
    cause: unknown,
  ) {
    super(`events sent but not marked published: ${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/**
 * The relay side of the transactional outbox. A relay first leases events (committed at once: a token
 * and an expiry), then sends them inside a transaction that locks them, and marks them published in
 * that transaction after the broker's ack. The two together keep every other relay off them:
 *
 * - the lock, while the relay is alive, however long the send takes or the process is frozen;
 * - the lease, when the database loses the lock (a restart between the ack and the mark): the relay
 *   marks them once the database is back, and nobody sends them again meanwhile.
 *
 * Only a relay that dies between the ack and the mark has its events sent again, by another relay
 * once the lease ran out (at-least-once; consumers dedupe on the snapshot id and status).
 */
@Injectable()
export class OutboxRepository {
  constructor(private readonly ds: DataSource) {}

  /** Leases up to `limit` unpublished events nobody holds, oldest first; null when there are none. */
  async lease(limit: number, leaseSeconds: number): Promise<string | null> {
    const token = randomUUID();
    const [row] = await this.ds.query<{ n: number }[]>(
      `WITH free AS (
         SELECT id FROM valuation_outbox
          WHERE published_at IS NULL AND (relay_lease_until IS NULL OR relay_lease_until < now())
          ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED),
       leased AS (
         UPDATE valuation_outbox o
            SET relay_token = $2, relay_lease_until = now() + make_interval(secs => $3)
           FROM free WHERE o.id = free.id
         RETURNING 1)
       SELECT count(*)::int AS n FROM leased`,
      [limit, token, leaseSeconds],
    );
    return row.n > 0 ? token : null;
  }

  /**
   * Sends the lease's events (those still leased to it) and marks them published, under their row
   * locks. Returns how many were sent. A failed send leaves them unpublished; a failure after the
   * send throws SentButNotMarkedError, so the caller marks them later instead of sending them again.
   */
  async sendLeased(token: string, publish: (events: OutboxEvent[]) => Promise<void>): Promise<number> {
    let sent: string[] | null = null;
    try {
      return await this.ds.transaction(async (manager) => {
        const rows = await manager.query<{ id: string; topic: string; message_key: string; value: string }[]>(
          `SELECT id::text, topic, message_key, payload::text AS value FROM valuation_outbox
            WHERE relay_token = $1 AND published_at IS NULL AND relay_lease_until > now()
            ORDER BY id FOR UPDATE`,
          [token],
        );
        if (rows.length === 0) return 0;
        await publish(rows.map((r) => ({ id: r.id, topic: r.topic, key: r.message_key, value: r.value })));
        sent = rows.map((r) => r.id);
        await manager.query(
          `UPDATE valuation_outbox SET published_at = now(), relay_lease_until = NULL WHERE id = ANY($1::bigint[])`,
          [sent],
        );
        return rows.length;
      });
    } catch (error) {
      throw sent ? new SentButNotMarkedError({ token, ids: sent }, error) : error;
    }
  }

  /** Marks events the broker already acknowledged (still under their lease). Returns how many. */
  async markPublished({ token, ids }: SentEvents): Promise<number> {
    // Wrapped in a SELECT: TypeORM returns [rows, count] for a bare UPDATE … RETURNING.
    const [row] = await this.ds.query<{ n: number }[]>(
      `WITH marked AS (
         UPDATE valuation_outbox SET published_at = now(), relay_lease_until = NULL
          WHERE id = ANY($1::bigint[]) AND relay_token = $2 AND published_at IS NULL
         RETURNING 1)
       SELECT count(*)::int AS n FROM marked`,
      [ids, token],
    );
    return row.n;
  }

  /**
   * Extends a lease that has not run out (so no other relay took any of its events): false when it
   * has, or holds nothing unpublished any more.
   */
  async renew(token: string, leaseSeconds: number): Promise<boolean> {
    const [row] = await this.ds.query<{ n: number }[]>(
      `WITH renewed AS (
         UPDATE valuation_outbox SET relay_lease_until = now() + make_interval(secs => $2)
          WHERE relay_token = $1 AND published_at IS NULL AND relay_lease_until > now()
         RETURNING 1)
       SELECT count(*)::int AS n FROM renewed`,
      [token, leaseSeconds],
    );
    return row.n > 0;
  }

  /** The relay gives the events up: they are free for any relay's next round at once. */
  async release(token: string): Promise<void> {
    await this.ds.query(
      `WITH released AS (
         UPDATE valuation_outbox SET relay_lease_until = NULL
          WHERE relay_token = $1 AND published_at IS NULL
         RETURNING 1)
       SELECT count(*) FROM released`,
      [token],
    );
  }
}
