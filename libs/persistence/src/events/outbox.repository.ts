import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface OutboxEvent {
  id: string;
  topic: string;
  key: string;
  payload: Record<string, unknown>;
}

/** The relay side of the transactional outbox: events are marked published only after Kafka acked them. */
@Injectable()
export class OutboxRepository {
  constructor(private readonly ds: DataSource) {}

  /**
   * Locks up to `limit` unpublished events (other relays skip them), hands them to `publish`, and marks
   * them published in the same transaction. A failed publish rolls back: the events stay unpublished.
   */
  async relay(limit: number, publish: (events: OutboxEvent[]) => Promise<void>): Promise<number> {
    return this.ds.transaction(async (manager) => {
      const rows = await manager.query<
        { id: string; topic: string; message_key: string; payload: Record<string, unknown> }[]
      >(
        `SELECT id::text, topic, message_key, payload FROM valuation_outbox
          WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      if (rows.length === 0) return 0;
      await publish(rows.map((r) => ({ id: r.id, topic: r.topic, key: r.message_key, payload: r.payload })));
      await manager.query(`UPDATE valuation_outbox SET published_at = now() WHERE id = ANY($1::bigint[])`, [
        rows.map((r) => r.id),
      ]);
      return rows.length;
    });
  }
}
