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

const countFile = process.env.BENCH_QUERY_COUNT_FILE;
const profilePrefix = process.env.BENCH_CPU_PROFILE;
let queries = 0;
let seq = 0;

if (countFile) {
  // Patched on the prototype, so pooled clients (TypeORM's) and dedicated ones (the leader lock) count.
  const proto = Client.prototype as unknown as { query: (this: Client, ...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: Client, ...args: unknown[]) {
    queries++;
    return original.apply(this, args);
  };
  writeFileSync(countFile, JSON.stringify({ queries, seq }));
}

let session: Session | null = null;

function toggleProfile(): void {
  if (!profilePrefix) return;
  if (session === null) {
    session = new Session();
    session.connect();
    session.post('Profiler.enable', () => session?.post('Profiler.start'));
    return;
  }
  const done = session;
  session = null;
  const file = `${profilePrefix}-${seq}.cpuprofile`;
  done.post('Profiler.stop', (error, result) => {
    if (!error) writeFileSync(file, JSON.stringify(result.profile));
    done.disconnect();
  });
}

process.on('SIGUSR2', () => {
  seq++;
  if (countFile) writeFileSync(countFile, JSON.stringify({ queries, seq }));
  toggleProfile();
});
