/**
 * Preloaded into the benchmark's app processes (`NODE_OPTIONS=--require …/probe.js`); idle until the
 * bench signals it with SIGUSR2, which marks the start and the end of a measured window.
 *
 * - Database round trips, counted from the client side: pg_stat_statements is not in
 *   shared_preload_libraries on the dev machines, and changing that means restarting a PostgreSQL
 *   others share. Every pg `query` call is one round trip (TypeORM's START TRANSACTION and COMMIT
 *   included). On each SIGUSR2 the count goes to BENCH_QUERY_COUNT_FILE.
 * - With BENCH_CPU_PROFILE (a file path prefix), a CPU profile of exactly the window: the first
 *   SIGUSR2 starts the V8 profiler, the next one writes `<prefix>-<n>.cpuprofile` (open it in Chrome
 *   DevTools or speedscope). `node --cpu-prof` cannot be used: NODE_OPTIONS does not allow it.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { Client } from 'pg';

/** One per app process (this file is preloaded once): its round-trip count and measured windows. */
class WindowProbe {
  private queries = 0;
  private seq = 0;
  private session: Session | null = null;

  constructor(
    private readonly countFile: string | undefined,
    private readonly profilePrefix: string | undefined,
  ) {}

  install(): void {
    if (this.countFile) {
      // Patched on the prototype, so pooled clients (TypeORM's) and dedicated ones (the leader lock) count.
      const proto = Client.prototype as unknown as { query: (this: Client, ...args: unknown[]) => unknown };
      const original = proto.query;
      const counted = () => this.queries++;
      proto.query = function (this: Client, ...args: unknown[]) {
        counted();
        return original.apply(this, args);
      };
      this.writeCount();
    }
    process.on('SIGUSR2', () => this.mark());
  }

  /** A window starts or ends: the count so far is written, the profile started or written. */
  private mark(): void {
    this.seq++;
    this.writeCount();
    this.toggleProfile();
  }

  private writeCount(): void {
    if (this.countFile)
      writeFileSync(this.countFile, JSON.stringify({ queries: this.queries, seq: this.seq }));
  }

  private toggleProfile(): void {
    if (!this.profilePrefix) return;
    if (this.session === null) {
      const session = new Session();
      this.session = session;
      session.connect();
      session.post('Profiler.enable', () => session.post('Profiler.start'));
      return;
    }
    const done = this.session;
    this.session = null;
    const file = `${this.profilePrefix}-${this.seq}.cpuprofile`;
    done.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(file, JSON.stringify(result.profile));
      done.disconnect();
    });
  }
}

new WindowProbe(process.env.BENCH_QUERY_COUNT_FILE, process.env.BENCH_CPU_PROFILE).install();
