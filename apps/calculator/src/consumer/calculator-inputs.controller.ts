import { Catch, Controller, RpcExceptionFilter, UseFilters } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { Observable, throwError } from 'rxjs';
import type { IncomingChunk } from '../transport/incoming-chunk';
import { MarketDataHandler } from './market-data.handler';
import { ValuationRequiredHandler } from './valuation-required.handler';

/**
 * Nest's default filter would log a handler's error and replace it with "Internal server error"; the
 * transport needs the error itself (it decides not to commit, and kafkajs logs and retries).
 */
@Catch()
class ToTransport implements RpcExceptionFilter<unknown> {
  catch(error: unknown): Observable<never> {
    return throwError(() => error);
  }
}

/**
 * The calculator's inputs, one chunk of a partition at a time. The patterns are the topics' names in
 * the contract; KafkaBatchTransport reads them from the configured topics (CALCULATOR_INPUTS) and
 * refuses to start if one has no handler here.
 */
@Controller()
@UseFilters(new ToTransport())
export class CalculatorInputsController {
  constructor(
    private readonly valuations: ValuationRequiredHandler,
    private readonly marketData: MarketDataHandler,
  ) {}

  @EventPattern('valuation_required')
  valuationRequired(@Payload() chunk: IncomingChunk): Promise<void> {
    return this.valuations.handle(chunk);
  }

  @EventPattern('market_price_persisted')
  marketPricePersisted(@Payload() chunk: IncomingChunk): Promise<void> {
    return this.marketData.prices(chunk);
  }

  @EventPattern('fx_rate_persisted')
  fxRatePersisted(@Payload() chunk: IncomingChunk): Promise<void> {
    return this.marketData.rates(chunk);
  }
}
