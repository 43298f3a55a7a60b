import { Inject, Injectable } from '@nestjs/common';
import type { KafkaSettings } from '@app/config';
import {
  fxRatePersistedSchema,
  InvalidMessageError,
  KAFKA_SETTINGS,
  marketPricePersistedSchema,
  parseMessage,
} from '@app/messaging';
import { ArrivalsRepository, FxArrival, PriceArrival } from '@app/persistence';
import { DeadLetterPublisher, Rejected } from './dead-letter.publisher';
import type { BatchHandler, IncomingBatch } from './incoming-batch';

/**
 * `market_price_persisted` and `fx_rate_persisted`: wake the jobs waiting on that data and record the
 * arrival for the scheduler's fan-out. Nothing heavy happens here, so real-time valuation never waits.
 */
@Injectable()
export class MarketDataHandler implements BatchHandler {
  constructor(
    private readonly arrivals: ArrivalsRepository,
    private readonly deadLetters: DeadLetterPublisher,
    @Inject(KAFKA_SETTINGS) private readonly kafka: KafkaSettings,
  ) {}

  async handle({ topic, partition, messages }: IncomingBatch): Promise<void> {
    const prices: PriceArrival[] = [];
    const rates: FxArrival[] = [];
    const rejected: Rejected[] = [];
    for (const message of messages) {
      try {
        if (topic === this.kafka.topics.marketPricePersisted) {
          const m = parseMessage(marketPricePersistedSchema, message.value);
          prices.push({ securityId: m.security_id, priceDate: m.price_date });
        } else {
          const m = parseMessage(fxRatePersistedSchema, message.value);
          rates.push({ fromCurrency: m.from_currency, toCurrency: m.to_currency, rateDate: m.rate_date });
        }
      } catch (error) {
        if (!(error instanceof InvalidMessageError)) throw error;
        rejected.push({ message, reason: error.message });
      }
    }
    await this.arrivals.recordArrivals(prices, rates);
    await this.deadLetters.send(topic, partition, rejected);
  }
}
