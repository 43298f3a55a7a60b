import type { Client } from 'pg';
import { seedBook } from '../lib/seed';
import type { JobKey } from './dataset';

/**
 * A steady stream of real-time jobs, inserted by the bench as PENDING rows (as an upstream service
 * may), `perSecond` on average in ticks of 50 ms. Keys come in the order given, skipping none; a tick
 * inserts what the schedule is behind by, so timer jitter does not change the rate.
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
    private readonly keys: readonly JobKey[],
  ) {}

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
      await seedBook(this.db, { jobs: this.keys.slice(this.inserted, due) });
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
