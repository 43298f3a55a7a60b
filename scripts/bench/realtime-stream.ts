import type { Client } from 'pg';

/**
 * A steady stream of real-time jobs, inserted by the bench as PENDING rows (as an upstream service
 * may), `perSecond` on average in ticks of 50 ms. Keys come in order from the dataset's positions ×
 * days, skipping none; a tick inserts what the schedule is behind by, so timer jitter does not change
 * the rate. Real-time jobs are the ones of the `P…` portfolios.
 */
export class RealtimeStream {
  private timer: NodeJS.Timeout | null = null;
  private inserted = 0;
  private started = 0;
  private pending: Promise<void> = Promise.resolve();
  private failure: unknown = null;

  constructor(
    private readonly db: Client,
    private readonly perSecond: number,
    private readonly days: number,
    private readonly startDate: string,
  ) {}

  /** Stages the key order once (a small table of the bench's own). */
  async prepare(): Promise<number> {
    await this.db.query(
      `CREATE TABLE bench_realtime_keys AS
       SELECT row_number() OVER (ORDER BY d, ps.portfolio_id, ps.security_id) AS seq,
              ps.portfolio_id, ps.security_id, $1::date + d AS valuation_date
         FROM position_state ps, generate_series(0, $2::int - 1) d
        WHERE ps.portfolio_id LIKE 'P%'`,
      [this.startDate, this.days],
    );
    await this.db.query('CREATE UNIQUE INDEX ON bench_realtime_keys (seq)');
    const { rows } = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM bench_realtime_keys');
    return rows[0].n;
  }

  start(): void {
    this.started = Date.now();
    this.timer = setInterval(() => {
      this.pending = this.pending.then(() => this.tick());
    }, 50);
  }

  private async tick(): Promise<void> {
    const due = Math.floor(((Date.now() - this.started) / 1000) * this.perSecond);
    if (due <= this.inserted || this.failure) return;
    try {
      await this.db.query(
        `INSERT INTO portfolio_valuation_jobs (portfolio_id, security_id, valuation_date)
         SELECT portfolio_id, security_id, valuation_date FROM bench_realtime_keys
          WHERE seq > $1 AND seq <= $2`,
        [this.inserted, due],
      );
      this.inserted = due;
    } catch (error) {
      this.failure = error;
    }
  }

  get count(): number {
    return this.inserted;
  }

  async stop(): Promise<number> {
    if (this.timer) clearInterval(this.timer);
    await this.pending;
    if (this.failure instanceof Error) throw this.failure;
    if (this.failure) throw new Error('the real-time stream failed');
    return this.inserted;
  }
}
