import { loadavg } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../lib/managed-process';
import { ensureBroker, stopBroker } from '../lib/infra';
import { bold, dim, green, heading, red, say, table, yellow } from '../lib/terminal';
import { type BenchContext, connect, createKafka } from './bench-context';
import { machineInfo } from './machine';
import { parseOptions, SCENARIOS, type ScenarioName } from './options';
import { pidListeningOn } from './profiling/cpu';
import { type RunInfo, writeDoc, writeJson } from './report';
import type { ScenarioResult } from './results';
import { type DrainResult, drainScenario } from './scenario-drain';
import { fanOutScenario } from './scenario-fan-out';
import { floorScenario } from './scenario-floor';
import { growthScenario } from './scenario-growth';
import { peersScenario } from './scenario-peers';
import { policiesScenario } from './scenario-policies';
import { retentionScenario } from './scenario-retention';
import { retryStormScenario } from './scenario-retry-storm';
import { benchSettings } from './settings';

type Scenario = (ctx: BenchContext, done: Map<ScenarioName, ScenarioResult>) => Promise<ScenarioResult>;

const RUNNERS: Record<ScenarioName, Scenario> = {
  drain: (ctx) => drainScenario(ctx),
  floor: (ctx, done) => floorScenario(ctx, done.get('drain') as DrainResult | undefined),
  peers: (ctx, done) => peersScenario(ctx, done.get('drain') as DrainResult | undefined),
  'fan-out': (ctx) => fanOutScenario(ctx),
  'retry-storm': (ctx) => retryStormScenario(ctx),
  growth: (ctx) => growthScenario(ctx),
  policies: (ctx) => policiesScenario(ctx),
  retention: (ctx) => retentionScenario(ctx),
};

/**
 * What kafka.sh sees: a broker other than the default one (another port) gets its own state directory
 * and controller port, so it never shares data or a pid file with the developer's broker on 9092.
 */
function brokerEnvFor(brokers: string): NodeJS.ProcessEnv {
  const port = Number(brokers.split(',')[0].split(':')[1] ?? 9092);
  if (port === 9092) return process.env;
  return {
    ...process.env,
    KAFKA_STATE_DIR: process.env.KAFKA_STATE_DIR ?? join(REPO_ROOT, `.kafka-${port}`),
    KAFKA_CONTROLLER_PORT: process.env.KAFKA_CONTROLLER_PORT ?? String(port + 1),
  };
}

/** Stops whatever a failed scenario left running (its `finally` normally did already). */
async function stopAll(ctx: BenchContext): Promise<void> {
  await Promise.all([...ctx.running].map((p) => p.stop().catch(() => undefined)));
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/valuation_bench';
  if (!new URL(databaseUrl).pathname.includes('bench'))
    throw new Error(`BENCH_DATABASE_URL must name a database with "bench" in it: each scenario drops it`);
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const brokerEnv = brokerEnvFor(brokers);
  const settings = benchSettings(options.overrides);
  const loadBefore = loadavg();
  say(
    bold(
      `Valuation pipeline benchmark (${options.quick ? 'quick' : 'full'}): ${options.scenarios.join(', ')}`,
    ),
  );
  const startedBroker = ensureBroker(brokers, brokerEnv);
  say(`  Kafka at ${brokers}${startedBroker ? ' (started for this run)' : ''}; database ${databaseUrl}`);
  say(
    `  settings: ${Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  if (loadBefore[0] > 1)
    say(yellow(`  load average ${loadBefore[0].toFixed(2)}: something else is busy, numbers will suffer`));
  const ctx: BenchContext = {
    quick: options.quick,
    profile: options.profile,
    settings,
    databaseUrl,
    brokers,
    runId: `bench-${Date.now().toString(36)}`,
    kafka: createKafka(brokers, 'valuation-bench'),
    brokerPid: pidListeningOn(Number(brokers.split(',')[0].split(':')[1])),
    running: new Set(),
  };
  const results = new Map<ScenarioName, ScenarioResult>();
  const startedAt = new Date();
  const interrupted = () => {
    say(red('interrupted: stopping the pipeline processes'));
    void stopAll(ctx).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    for (const name of options.scenarios) {
      const began = Date.now();
      const result = await RUNNERS[name](ctx, results);
      const took = (Date.now() - began) / 1000;
      result.data.seconds = took;
      say(dim(`  ${name} took ${took.toFixed(0)} s`));
      results.set(name, result);
    }
  } finally {
    await stopAll(ctx);
    if (startedBroker) stopBroker(brokerEnv);
  }

  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  const all = [...results.values()];
  heading(`Summary (${seconds.toFixed(0)} s)`);
  say(
    table(
      ['scenario', 'metric', 'value'],
      all.flatMap((r) => r.summary.map(([m, v]) => [r.name, m, v])),
    ),
  );
  say();
  for (const t of all.flatMap((r) => r.targets))
    say(`  ${t.met ? green('met   ') : red('missed')} ${t.target}: ${t.measured}`);

  const admin = await connect(databaseUrl.replace(/\/[^/]*$/, '/postgres'), 'valuation-bench');
  const run: RunInfo = {
    mode: options.quick ? 'quick' : 'full',
    startedAt: startedAt.toISOString(),
    seconds,
    scenarios: options.scenarios,
    settings,
    loadBefore,
    machine: await machineInfo(admin).finally(() => admin.end()),
  };
  say();
  // The docs describe one whole run; a run of some scenarios only leaves them as they are, and
  // replaces only its own scenarios in the JSON.
  const whole = SCENARIOS.every((s) => options.scenarios.includes(s));
  say(`  wrote ${writeJson(run, all, !whole)}`);
  if (whole) say(`  wrote ${writeDoc(run, all)}`);
  else say(dim('  docs/benchmarks.md left as it is: only a run of every scenario rewrites it'));
}

main().catch((error: unknown) => {
  say(red(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`));
  process.exit(1);
});
