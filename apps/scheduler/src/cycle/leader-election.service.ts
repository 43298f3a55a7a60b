import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Client } from 'pg';
import { AppConfig } from '@app/config';
import { SchedulerMetrics } from '../scheduler.metrics';

/** The advisory lock every scheduler of one database competes for: the bytes of "valsched". */
export const LEADER_LOCK_KEY = '8530218412061255012';
export const LEADER_APPLICATION_NAME = 'valuation-scheduler-leader';

/** A heartbeat that does not answer within this long means the connection (and so the lock) is gone. */
const HEARTBEAT_TIMEOUT_MS = 5000;

/**
 * One active scheduler per database (contract §5). Leadership is a session-level advisory lock held
 * on a dedicated connection, never a pooled one: the lock lives exactly as long as that session,
 * so a leader that is killed (even with -9) loses it when the kernel closes its socket, and a standby
 * polling every interval takes over well within one claim lease.
 *
 * The server is told to probe the connection with TCP keepalives, so a leader whose host vanishes
 * without closing the socket loses its lock within about 25 s. On this side, any error of the
 * dedicated connection, or a heartbeat that does not answer, ends leadership at once.
 */
@Injectable()
export class LeaderElectionService implements OnApplicationShutdown {
  private readonly logger = new Logger(LeaderElectionService.name);
  private client: Client | null = null;
  private leader = false;
  private closed = false;

  constructor(
    private readonly config: AppConfig,
    private readonly metrics: SchedulerMetrics,
  ) {}

  get isLeader(): boolean {
    return this.leader;
  }

  /** Once per poll interval: a leader confirms its session is alive, a standby tries the lock. */
  async poll(): Promise<boolean> {
    if (this.closed) return false;
    try {
      const client = this.client ?? (await this.connect());
      if (this.leader) {
        await client.query('SELECT 1');
        return this.leader;
      }
      const { rows } = await client.query<{ acquired: boolean }>(
        'SELECT pg_try_advisory_lock($1::bigint) AS acquired',
        [LEADER_LOCK_KEY],
      );
      if (rows[0].acquired && this.client === client) {
        this.leader = true;
        this.metrics.setLeader(true);
        this.logger.log('became the active scheduler');
      }
      return this.leader;
    } catch (error) {
      if (this.client) this.dropConnection(error);
      else this.logger.warn(`cannot reach the database for leader election: ${describe(error)}`);
      return false;
    }
  }

  /** Releases the lock before the pool closes, so a standby takes over at its next poll. */
  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (this.leader) {
      this.leader = false;
      this.metrics.setLeader(false);
      this.logger.log('releasing the scheduler lock (shutting down)');
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [LEADER_LOCK_KEY]).catch(() => undefined);
    }
    await client.end().catch(() => undefined);
  }

  private async connect(): Promise<Client> {
    const client = new Client({
      connectionString: this.config.databaseUrl,
      application_name: LEADER_APPLICATION_NAME,
      connectionTimeoutMillis: HEARTBEAT_TIMEOUT_MS,
      query_timeout: HEARTBEAT_TIMEOUT_MS,
      keepAlive: true,
    });
    // Without an error listener a dropped connection would crash the process; with it, it only
    // ends this instance's leadership.
    client.on('error', (error) => this.dropConnection(error, client));
    client.on('end', () => this.dropConnection(new Error('connection ended'), client));
    try {
      await client.connect();
      await client.query(
        'SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3',
      );
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw error;
    }
    this.client = client;
    return client;
  }

  private dropConnection(error: unknown, which: Client | null = this.client): void {
    if (which === null || which !== this.client) return;
    this.client = null;
    if (this.leader) {
      this.leader = false;
      this.metrics.setLeader(false);
      this.logger.warn(`no longer the active scheduler: its lock connection failed (${describe(error)})`);
    } else if (!this.closed) {
      this.logger.warn(`leader-election connection failed: ${describe(error)}`);
    }
    which.removeAllListeners('end');
    which.end().catch(() => undefined);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
