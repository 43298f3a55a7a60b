import { Inject, Injectable } from '@nestjs/common';
import { Client } from 'pg';
import { ReadinessCheck } from '@app/observability';
import { connectionStringOf } from './data-source';
import { PERSISTENCE_OPTIONS, type PersistenceOptions } from './persistence.options';

/** The probe's own connection must be up within this long. */
export const READINESS_CONNECT_TIMEOUT_MS = 1000;
/** The server cancels the probe's statement (or its wait for a lock) after this long. */
export const READINESS_STATEMENT_TIMEOUT_MS = 800;
/** How the probe's session shows in `pg_stat_activity`. */
export const READINESS_APPLICATION_NAME = 'valuation-readiness';

/**
 * The database answers a query. The probe runs on a short-lived connection of its own, never the
 * process's pool: a pool busy with long statements cannot hold the probe up, and a probe cannot hold
 * a pool connection. Its session carries a statement and lock timeout, so a probe the database does
 * not answer in time is cancelled by the server, and the connection is closed whatever happened:
 * within about 2 s (the health controller's bound) nothing of the probe is left behind.
 */
@Injectable()
export class DatabaseReadiness extends ReadinessCheck {
  readonly name = 'database';
  constructor(@Inject(PERSISTENCE_OPTIONS) private readonly options: PersistenceOptions) {
    super();
  }

  async check(): Promise<void> {
    const client = new Client({
      connectionString: connectionStringOf(this.options.connection),
      application_name: READINESS_APPLICATION_NAME,
      connectionTimeoutMillis: READINESS_CONNECT_TIMEOUT_MS,
      statement_timeout: READINESS_STATEMENT_TIMEOUT_MS,
      lock_timeout: READINESS_STATEMENT_TIMEOUT_MS,
      // Also gives up on this side when the server does not answer at all (a network cut).
      query_timeout: READINESS_STATEMENT_TIMEOUT_MS + 200,
    });
    // Failures surface through connect() and query(); a late socket error must not crash the process.
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query(this.probe());
    } finally {
      // Not awaited: a server that vanished may never acknowledge the goodbye.
      client.end().catch(() => undefined);
    }
  }

  /** What the probe runs (a spec substitutes one that blocks). */
  protected probe(): string {
    return 'SELECT 1';
  }
}
