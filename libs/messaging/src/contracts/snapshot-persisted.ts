import { z } from 'zod';
import { VALUATION_STATUSES } from '@app/valuation';
import { identifier, isoDate } from '../storable';
import { epoch } from './fields';
import { encodeMessage, parseMessage } from './wire';
import type { OutgoingMessage } from '../event-publisher';

/**
 * `daily_position_snapshot_persisted` (contract §6), calculator (outbox) → downstream, keyed by
 * portfolio_id: a snapshot was written. `id` is the snapshot row's id, a JSON number; consumers dedupe
 * on it (the outbox relay delivers at least once).
 */
export const snapshotPersistedSchema = z.object({
  id: z.number().int('must be a whole number').positive('must be positive'),
  portfolio_id: identifier,
  security_id: identifier,
  date: isoDate,
  epoch,
  valuation_status: z.enum(VALUATION_STATUSES),
});
export type SnapshotPersistedMessage = z.infer<typeof snapshotPersistedSchema>;

export const parseSnapshotPersisted = (value: Buffer | null): SnapshotPersistedMessage =>
  parseMessage(snapshotPersistedSchema, value);

export const buildSnapshotPersisted = (message: SnapshotPersistedMessage): OutgoingMessage =>
  encodeMessage(snapshotPersistedSchema, message.portfolio_id, message);
