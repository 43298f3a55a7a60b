import { say } from '../lib/terminal';

export const SCENARIOS = [
  'drain',
  'floor',
  'fan-out',
  'retry-storm',
  'growth',
  'policies',
  'retention',
  // Last: its ratio needs the drain's result of the same run.
  'peers',
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  quick: boolean;
  profile: boolean;
  scenarios: ScenarioName[];
  /** Pipeline settings to override (`--set NAME=VALUE`), for exploring. */
  overrides: Record<string, string>;
}

const USAGE = `npm run bench -- [--quick] [--scenario NAME[,NAME…]]… [--profile]

  --quick       smaller sizes, the whole run in a few minutes
  --scenario    run only these (${SCENARIOS.join(', ')}); floor includes a drain to compare with;
                peers compares with the drain when it ran before, in the same invocation
  --profile     write CPU profiles of the app processes over each measured window to .run/prof
  --set N=V     override a pipeline setting (environment variable of the apps) for every scenario

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/valuation_bench),
KAFKA_BROKERS (default 127.0.0.1:9092; a broker is started there when none answers, and stopped after).`;

export function parseOptions(argv: string[]): BenchOptions {
  const options: BenchOptions = { quick: false, profile: false, scenarios: [], overrides: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') options.quick = true;
    else if (arg === '--profile') options.profile = true;
    else if (arg === '--scenario' || arg.startsWith('--scenario=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      for (const name of (value ?? '').split(',')) {
        if (!(SCENARIOS as readonly string[]).includes(name))
          throw new Error(`--scenario takes one of ${SCENARIOS.join(', ')}, not "${name}"`);
        options.scenarios.push(name as ScenarioName);
      }
    } else if (arg === '--set') {
      const [name, ...value] = (argv[++i] ?? '').split('=');
      if (!/^[A-Z_]+$/.test(name) || value.length === 0) throw new Error('--set takes NAME=VALUE');
      options.overrides[name] = value.join('=');
    } else if (arg === '--help' || arg === '-h') {
      say(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  if (options.scenarios.length === 0) options.scenarios = [...SCENARIOS];
  return options;
}
