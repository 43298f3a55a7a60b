import type { KafkaMessage } from 'kafkajs';

/** A slice of one partition's messages, handled (and committed) as a unit. */
export interface IncomingBatch {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
}

/** Handles a batch: domain outcomes go to the job table, bad messages to the DLQ. Throws only on infrastructure failure. */
export interface BatchHandler {
  handle(batch: IncomingBatch): Promise<void>;
}
