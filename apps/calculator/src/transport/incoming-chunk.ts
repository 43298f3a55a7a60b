import type { KafkaMessage } from 'kafkajs';

/**
 * What an `@EventPattern` handler of the calculator receives: consecutive messages of one partition,
 * applied in one transaction and committed together once the handler has settled every one of them.
 */
export interface IncomingChunk {
  topic: string;
  partition: number;
  messages: KafkaMessage[];
}
