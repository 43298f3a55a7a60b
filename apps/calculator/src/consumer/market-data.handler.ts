import { Inject, Injectable } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import type { KafkaSettings } from '@app/config';
import {
  fxRatePersistedSchema,
  InvalidMessageError,
  KAFKA_SETTINGS,
  marketPricePersistedSchema,
  parseMessage,
} from '@app/messaging';
import { ArrivalsRepository, FxArrival, PriceArrival, refusedValueReason } from '@app/persistence';
import { DeadLetterPublisher, Rejected } from './dead-letter.publisher';
import type { BatchHandler, IncomingBatch } from './incoming-batch';
import { applyIsolatingRefusals } from './refusal-isolation';

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
    const arrivals: Arrival[] = [];
    const rejected: Rejected[] = [];
    for (const message of messages) {
      try {
        if (topic === this.kafka.topics.marketPricePersisted) {
          const m = parseMessage(marketPricePersistedSchema, message.value);
          arrivals.push({ message, price: { securityId: m.security_id, priceDate: m.price_date } });
        } else {
          const m = parseMessage(fxRatePersistedSchema, message.value);
          const rate = { fromCurrency: m.from_currency, toCurrency: m.to_currency, rateDate: m.rate_date };
          arrivals.push({ message, rate });
        }
      } catch (error) {
        if (!(error instanceof InvalidMessageError)) throw error;
        rejected.push({ message, reason: error.message });
      }
    }
    // A value the database refuses (what validation missed) costs only its own message, not the chunk.
    const { refused } = await applyIsolatingRefusals(
      arrivals,
      (some) => this.record(some),
      refusedValueReason,
    );
    for (const { item, reason } of refused) rejected.push({ message: item.message, reason });
    await this.deadLetters.send(topic, partition, rejected);
  }

  private async record(arrivals: readonly Arrival[]): Promise<never[]> {
    await this.arrivals.recordArrivals(
      arrivals.flatMap((a) => (a.price ? [a.price] : [])),
      arrivals.flatMap((a) => (a.rate ? [a.rate] : [])),
    );
    return [];
  }
}

interface Arrival {
  message: KafkaMessage;
  price?: PriceArrival;
  rate?: FxArrival;
}
