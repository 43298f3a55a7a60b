import { Injectable } from '@nestjs/common';
import {
  InjectMetric,
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
} from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { ProcessedOutcome } from '@app/valuation';
import { PartitionProgress } from './transport/partition-progress';

const PROCESSED = 'valuation_jobs_processed_total';
const DURATION = 'valuation_job_duration_seconds';
const DEAD_LETTERED = 'valuation_messages_dead_lettered_total';
const STALLED = 'valuation_consumer_stalled_partitions';

export const CALCULATOR_METRIC_PROVIDERS = [
  makeCounterProvider({ name: PROCESSED, help: 'Valuation attempts by outcome', labelNames: ['outcome'] }),
  makeHistogramProvider({
    name: DURATION,
    help: 'Time to value one job, from receiving its message to committing its result',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }),
  makeCounterProvider({ name: DEAD_LETTERED, help: 'Messages sent to the DLQ', labelNames: ['topic'] }),
  makeGaugeProvider({
    name: STALLED,
    help: 'Partitions of an input topic that have not advanced for longer than CALCULATOR_STALL_SECONDS',
    labelNames: ['topic'],
    inject: [PartitionProgress],
    collect(this: Gauge<'topic'>, progress: PartitionProgress) {
      for (const [topic, n] of progress.stalledPartitions()) this.set({ topic }, n);
    },
  }),
];

/** Contract §8, calculator side. No per-portfolio or per-security labels. */
@Injectable()
export class CalculatorMetrics {
  constructor(
    @InjectMetric(PROCESSED) private readonly processed: Counter<'outcome'>,
    @InjectMetric(DURATION) private readonly duration: Histogram,
    @InjectMetric(DEAD_LETTERED) private readonly deadLettered: Counter<'topic'>,
  ) {}

  jobProcessed(outcome: ProcessedOutcome, seconds: number): void {
    this.processed.inc({ outcome });
    if (outcome !== 'lost_claim') this.duration.observe(seconds);
  }

  messageDeadLettered(topic: string): void {
    this.deadLettered.inc({ topic });
  }
}
