import type { RetrySettings } from '@app/valuation';

export interface PersistenceOptions {
  databaseUrl: string;
  /** Connections in the pool of this process. */
  poolSize?: number;
  jobPolicy: 'retrying' | 'legacy';
  retry: RetrySettings;
  /** Topic the outbox events of persisted snapshots go to. */
  snapshotTopic: string;
}

export const PERSISTENCE_OPTIONS = Symbol('PERSISTENCE_OPTIONS');
