import type { Client } from 'pg';
import { connect } from '../bench-context';

export interface ActivitySample {
  /** Share of samples in which a backend was active on this statement (summed over backends). */
  statement: string;
  activeBackends: number;
  /** How often it was waiting rather than on CPU, as a share of its samples, and on what mostly. */
  waiting: number;
  topWait: string;
}

/**
 * A sampling profiler for the database side: every `intervalMs` it reads pg_stat_activity of the
 * bench database and counts which statement each active backend is running (its first line, which
 * names it) and whether it waits (on a lock, on I/O, on the WAL). The averages over the window are
 * the mean number of backends busy with each statement. It needs no extension and no server
 * setting, and costs one short query per sample on its own connection.
 */
export class ActivitySampler {
  private readonly counts = new Map<string, { n: number; waiting: number; waits: Map<string, number> }>();
  private samples = 0;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private client: Client | null = null;

  constructor(
    private readonly databaseUrl: string,
    private readonly intervalMs = 10,
  ) {}

  async start(): Promise<void> {
    this.client = await connect(this.databaseUrl, 'valuation-bench-sampler');
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
  }

  private async sample(): Promise<void> {
    if (this.busy || !this.client) return;
    this.busy = true;
    try {
      const { rows } = await this.client.query<{ q: string; wait: string | null }>(
        `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS q,
                CASE WHEN wait_event IS NOT NULL THEN wait_event_type || ':' || wait_event END AS wait
           FROM pg_stat_activity
          WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`,
      );
      this.samples++;
      for (const r of rows) {
        const entry = this.counts.get(r.q) ?? { n: 0, waiting: 0, waits: new Map<string, number>() };
        entry.n++;
        if (r.wait) {
          entry.waiting++;
          entry.waits.set(r.wait, (entry.waits.get(r.wait) ?? 0) + 1);
        }
        this.counts.set(r.q, entry);
      }
    } catch {
      // a sample lost (e.g. during a restart) only lowers the count
    } finally {
      this.busy = false;
    }
  }

  async stop(top = 12): Promise<ActivitySample[]> {
    if (this.timer) clearInterval(this.timer);
    await this.client?.end();
    return [...this.counts.entries()]
      .sort((a, b) => b[1].n - a[1].n)
      .slice(0, top)
      .map(([statement, c]) => ({
        statement,
        activeBackends: c.n / Math.max(1, this.samples),
        waiting: c.n ? c.waiting / c.n : 0,
        topWait: [...c.waits.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '',
      }));
  }
}
