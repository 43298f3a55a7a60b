import { Injectable, Logger } from '@nestjs/common';
import type { KafkaMessage } from 'kafkajs';
import { InvalidMessageError, parseValuationRequired } from '@app/messaging';
import { refusedValueReason } from '@app/persistence';
import { ValuationJobRepository, ValuationRequest } from '@app/valuation';
import { CalculatorMetrics } from '../calculator.metrics';
import { DeadLetterPublisher, Rejected } from './dead-letter.publisher';
import type { IncomingChunk } from '../transport/incoming-chunk';
import { applyIsolatingRefusals } from './refusal-isolation';

/** `valuation_required`: values the chunk's jobs in one transaction through the configured job repository. */
@Injectable()
export class ValuationRequiredHandler {
  private readonly logger = new Logger(ValuationRequiredHandler.name);

  constructor(
    private readonly jobs: ValuationJobRepository,
    private readonly deadLetters: DeadLetterPublisher,
    private readonly metrics: CalculatorMetrics,
  ) {}

  async handle({ topic, partition, messages }: IncomingChunk): Promise<void> {
    const started = process.hrtime.bigint();
    const rejected: Rejected[] = [];
    const requests: ValuationRequest[] = [];
    const sources = new Map<ValuationRequest, KafkaMessage>();
    for (const message of messages) {
      try {
        const m = parseValuationRequired(message.value);
        const request: ValuationRequest = {
          key: {
            portfolioId: m.portfolio_id,
            securityId: m.security_id,
            valuationDate: m.valuation_date,
            epoch: m.epoch,
          },
          correlationId: m.correlation_id ?? null,
          claimToken: m.claim_token ?? null,
        };
        requests.push(request);
        sources.set(request, message);
      } catch (error) {
        if (!(error instanceof InvalidMessageError)) throw error;
        rejected.push({ message, reason: error.message });
      }
    }

    // A value the database refuses (what validation missed) costs only its own message, not the chunk.
    const { results, refused } = await applyIsolatingRefusals(
      requests,
      (some) => this.jobs.valueBatch(some),
      refusedValueReason,
    );
    for (const { item, reason } of refused) rejected.push({ message: sources.get(item)!, reason });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    for (const result of results) {
      const { key, correlationId } = result.request;
      if (result.outcome === 'unknown_job') {
        rejected.push({ message: sources.get(result.request)!, reason: `unknown job: ${result.reason}` });
        continue;
      }
      this.metrics.jobProcessed(result.outcome, seconds);
      const entry = {
        msg: 'job attempted',
        ...key,
        jobId: result.jobId,
        correlationId,
        outcome: result.outcome,
        reason: result.reason,
      };
      // Failures and retries are what operators look for; successes are only worth a debug line.
      if (result.outcome === 'failed') this.logger.warn(entry);
      else if (result.outcome === 'retry_scheduled') this.logger.log(entry);
      else this.logger.debug(entry);
    }
    await this.deadLetters.send(topic, partition, rejected);
  }
}
