import { z } from 'zod';
import { identifier, isoDate, positiveAmount } from '../storable';
import { currency } from './fields';
import { encodeMessage, parseMessage } from './wire';
import type { OutgoingMessage } from '../event-publisher';

/** `market_price_persisted` (contract §6), upstream → calculator, keyed by security_id. */
export const marketPricePersistedSchema = z.object({
  security_id: identifier,
  price_date: isoDate,
  price: positiveAmount,
  currency,
});
export type MarketPricePersistedMessage = z.infer<typeof marketPricePersistedSchema>;

export const parseMarketPricePersisted = (value: Buffer | null): MarketPricePersistedMessage =>
  parseMessage(marketPricePersistedSchema, value);

export const buildMarketPricePersisted = (message: MarketPricePersistedMessage): OutgoingMessage =>
  encodeMessage(marketPricePersistedSchema, message.security_id, message);
