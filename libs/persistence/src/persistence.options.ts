import type { RetrySettings } from '@app/valuation';
import type { DatabaseTarget, SessionTimeouts } from './data-source';

export interface PersistenceOptions {
  /** The configuration's `database.connection` (`DATABASE_URL`, `DATABASE_PASSWORD_FILE`), or a URL in specs. */
  connection: DatabaseTarget;
  /** Connections in the pool of this process. */
  poolSize?: number;
  /**
   * Statement and lock timeouts of every session of the pool (`DATABASE_STATEMENT_TIMEOUT_MS`,
   * `DATABASE_LOCK_TIMEOUT_MS`); both apps pass them. Absent: the server's defaults.
   */
  timeouts?: SessionTimeouts;
  jobPolicy: 'retrying' | 'legacy';
  retry: RetrySettings;
  /** Topic the outbox events of persisted snapshots go to. */
  snapshotTopic: string;
  /**
   * Who this process is in a job's attempt history (`worker`, contract §9): the calculator passes its
   * Kafka client id (`KAFKA_CLIENT_ID`, default `valuation-calculator`). Absent: `calculator`.
   */
  workerId?: string;
}

export const PERSISTENCE_OPTIONS = Symbol('PERSISTENCE_OPTIONS');
