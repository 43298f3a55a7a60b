import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Client } from 'pg';
import { AppConfig } from '@app/config';
import { SchedulerMetrics } from '../scheduler.metrics';

export const LEADER_APPLICATION_NAME = 'valuation-scheduler-leader';

/** A poll that does not answer within this long means the connection is gone. */
const POLL_TIMEOUT_MS = 5000;
/**
 * The share of the lease this process trusts itself to lead after a renewal, measured on its own
 * monotonic clock from before the renewal was sent. The database's lease runs from when it executed
 * the renewal, later, so this process stops acting before any standby may start.
 */
const TRUSTED_SHARE = 0.9;

/**
 * One active scheduler per database (contract §5, §10). Leadership is a lease on the one row of
 * `valuation_scheduler_leader`, renewed every poll over a dedicated connection (never a pooled one):
 *
 * - A standby takes the lease when it has expired, or at once when the holder's backend is gone (a
 *   leader killed even with -9 loses its session when the kernel closes its socket).
 * - A leader that stops renewing (paused, frozen VM, cut off from the database) is replaced once its
 *   lease runs out, although its session may live on.
 * - A leader trusts its leadership only until `TRUSTED_SHARE` of the lease after its last renewal,
 *   by its monotonic clock, which keeps running while the process is frozen: on waking it knows it
 *   may have been replaced before it touches anything, stops its cycle, and its next poll finds the
 *   term changed and makes it a standby.
 * - Every change of leader increments `term`; a leader renews only its own term.
 */
@Injectable()
export class LeaderElectionService implements OnApplicationShutdown {
  private readonly logger = new Logger(LeaderElectionService.name);
  private readonly holder = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  private readonly leaseSeconds: number;
  private client: Client | null = null;
  private term: string | null = null;
  private trustedUntil = 0;
  private closed = false;
  private polling: Promise<boolean> | null = null;
  /** Renews the lease between ticks too, so a long cycle does not let it lapse. */
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly metrics: SchedulerMetrics,
  ) {
    this.leaseSeconds = config.scheduler.leaderLeaseSeconds;
  }

  /** Leader now: holds a term and is within the trusted part of its lease. */
  get isLeader(): boolean {
    return this.term !== null && performance.now() < this.trustedUntil;
  }

  /** Each tick: a leader renews its lease, a standby tries to take it. Concurrent calls share one poll. */
  poll(): Promise<boolean> {
    this.polling ??= this.pollOnce().finally(() => (this.polling = null));
    return this.polling;
  }

  private async pollOnce(): Promise<boolean> {
    if (this.closed) return false;
    const sentAt = performance.now();
    try {
      const client = this.client ?? (await this.connect());
      const { rows } =
        this.term === null
          ? await client.query<{ term: string }>(
              `UPDATE valuation_scheduler_leader
                  SET term = term + 1, holder = $1, holder_pid = pg_backend_pid(),
                      expires_at = now() + make_interval(secs => $2)
                WHERE id = 1
                  AND (expires_at < now()
                       OR holder_pid IS NULL
                       OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = holder_pid))
               RETURNING term::text`,
              [this.holder, this.leaseSeconds],
            )
          : await client.query<{ term: string }>(
              `UPDATE valuation_scheduler_leader
                  SET expires_at = now() + make_interval(secs => $2), holder_pid = pg_backend_pid()
                WHERE id = 1 AND term = $1
               RETURNING term::text`,
              [this.term, this.leaseSeconds],
            );
      if (client !== this.client) return false; // the connection failed meanwhile
      if (rows.length === 1) this.leading(rows[0].term, sentAt);
      else if (this.term !== null) this.standingDown('another scheduler took over its expired lease');
      return this.isLeader;
    } catch (error) {
      if (this.client) this.dropConnection(error);
      else this.logger.warn(`cannot reach the database for leader election: ${describe(error)}`);
      return false;
    }
  }

  /** Gives the lease up before the pool closes, so a standby takes over at its next poll. */
  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await this.polling?.catch(() => undefined);
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (this.term !== null) {
      const term = this.term;
      this.standingDown('shutting down');
      await client
        .query(`UPDATE valuation_scheduler_leader SET expires_at = '-infinity' WHERE id = 1 AND term = $1`, [
          term,
        ])
        .catch(() => undefined);
    }
    await client.end().catch(() => undefined);
  }

  private leading(term: string, renewalSentAt: number): void {
    if (this.term !== term) {
      this.logger.log(`became the active scheduler (term ${term}, lease ${this.leaseSeconds} s)`);
      this.metrics.setLeader(true);
      this.heartbeat ??= setInterval(() => void this.poll(), (this.leaseSeconds * 1000) / 3).unref();
    }
    this.term = term;
    this.trustedUntil = renewalSentAt + this.leaseSeconds * 1000 * TRUSTED_SHARE;
  }

  private standingDown(why: string): void {
    if (this.term === null) return;
    this.logger.warn(`no longer the active scheduler (term ${this.term}): ${why}`);
    this.term = null;
    this.trustedUntil = 0;
    this.metrics.setLeader(false);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private async connect(): Promise<Client> {
    const client = new Client({
      connectionString: this.config.database.connection.connectionString(),
      application_name: LEADER_APPLICATION_NAME,
      connectionTimeoutMillis: POLL_TIMEOUT_MS,
      query_timeout: POLL_TIMEOUT_MS,
      // Server-side bounds too: a poll blocked on the row (a session holding it) fails, never waits on.
      statement_timeout: Math.min(this.config.database.statementTimeoutMs, POLL_TIMEOUT_MS),
      lock_timeout: Math.min(this.config.database.lockTimeoutMs, POLL_TIMEOUT_MS),
      keepAlive: true,
    });
    // Without an error listener a dropped connection would crash the process; with it, it only
    // ends this instance's leadership.
    client.on('error', (error) => this.dropConnection(error, client));
    client.on('end', () => this.dropConnection(new Error('connection ended'), client));
    try {
      await client.connect();
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    return client;
  }

  /**
   * The dedicated connection failed. Its backend is gone, so a standby may take the lease at once:
   * leadership ends here too, without waiting for the lease.
   */
  private dropConnection(error: unknown, which: Client | null = this.client): void {
    if (which === null || which !== this.client) return;
    this.client = null;
    if (this.term !== null) this.standingDown(`its connection failed (${describe(error)})`);
    else if (!this.closed) this.logger.warn(`leader-election connection failed: ${describe(error)}`);
    which.removeAllListeners('end');
    which.end().catch(() => undefined);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
