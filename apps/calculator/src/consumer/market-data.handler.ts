import { Injectable } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import { InvalidMessageError, parseFxRatePersisted, parseMarketPricePersisted } from '@app/messaging';
import { ArrivalsRepository, FxArrival, PriceArrival, refusedValueReason } from '@app/persistence';
import type { IncomingChunk } from '../transport/incoming-chunk';
import { DeadLetterPublisher, Rejected } from './dead-letter.publisher';
import { applyIsolatingRefusals } from './refusal-isolation';

/**
 * `market_price_persisted` and `fx_rate_persisted`: wake the jobs waiting on that data and record the
 * arrival for the scheduler's fan-out. Nothing heavy happens here, so real-time valuation never waits.
 */
@Injectable()
export class MarketDataHandler {
  constructor(
    private readonly arrivals: ArrivalsRepository,
    private readonly deadLetters: DeadLetterPublisher,
  ) {}

  prices(chunk: IncomingChunk): Promise<void> {
    return this.handle(chunk, (value) => {
      const m = parseMarketPricePersisted(value);
      return { price: { securityId: m.security_id, priceDate: m.price_date } };
    });
  }

  rates(chunk: IncomingChunk): Promise<void> {
    return this.handle(chunk, (value) => {
      const m = parseFxRatePersisted(value);
      return { rate: { fromCurrency: m.from_currency, toCurrency: m.to_currency, rateDate: m.rate_date } };
    });
  }

  private async handle(
    { topic, partition, messages }: IncomingChunk,
    parse: (value: Buffer | null) => Omit<Arrival, 'message'>,
  ): Promise<void> {
    const arrivals: Arrival[] = [];
    const rejected: Rejected[] = [];
    for (const message of messages) {
      try {
        arrivals.push({ message, ...parse(message.value) });
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
