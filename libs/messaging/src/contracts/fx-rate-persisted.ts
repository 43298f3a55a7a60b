import { z } from 'zod';
import { fxPairKey } from '@app/valuation';
import { isoDate, positiveAmount } from '../storable';
import { currency } from './fields';
import { encodeMessage, parseMessage } from './wire';
import type { OutgoingMessage } from '../event-publisher';

/** `fx_rate_persisted` (contract §6), upstream → calculator, keyed by the pair `FROM/TO`. */
export const fxRatePersistedSchema = z.object({
  from_currency: currency,
  to_currency: currency,
  rate_date: isoDate,
  rate: positiveAmount,
});
export type FxRatePersistedMessage = z.infer<typeof fxRatePersistedSchema>;

export const parseFxRatePersisted = (value: Buffer | null): FxRatePersistedMessage =>
  parseMessage(fxRatePersistedSchema, value);

export const buildFxRatePersisted = (message: FxRatePersistedMessage): OutgoingMessage =>
  encodeMessage(fxRatePersistedSchema, fxPairKey(message.from_currency, message.to_currency), message);
