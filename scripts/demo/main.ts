import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { ManagedProcess, REPO_ROOT } from '../lib/managed-process';
import { bold, dim, heading, red, say, yellow } from '../lib/terminal';
import { ensureBroker, freshDatabase, stopBroker } from '../lib/infra';
import { HORIZON, loadDataset } from './demo-dataset';
import { DemoStory } from './demo-story';

interface Options {
  keepRunning: boolean;
  policy: 'retrying' | 'legacy';
}

function parseArgs(argv: string[]): Options {
  const options: Options = { keepRunning: false, policy: 'retrying' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--keep-running') options.keepRunning = true;
    else if (arg === '--policy' || arg.startsWith('--policy=')) {
      const value = arg.includes('=') ? arg.split('=')[1] : argv[++i];
      if (value !== 'retrying' && value !== 'legacy')
        throw new Error(`--policy takes retrying or legacy, not ${value}`);
      options.policy = value;
    } else if (arg === '--help' || arg === '-h') {
      say('npm run demo -- [--policy retrying|legacy] [--keep-running]');
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  return options;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const databaseUrl = process.env.DEMO_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/valuation_demo';
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const run = `demo-${Date.now().toString(36)}`;
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    KAFKA_BROKERS: brokers,
    KAFKA_CONSUMER_GROUP: `${run}.calculator`,
    KAFKA_TOPIC_VALUATION_REQUIRED: `${run}.valuation_required`,
    KAFKA_TOPIC_MARKET_PRICE_PERSISTED: `${run}.market_price_persisted`,
    KAFKA_TOPIC_FX_RATE_PERSISTED: `${run}.fx_rate_persisted`,
    KAFKA_TOPIC_SNAPSHOT_PERSISTED: `${run}.daily_position_snapshot_persisted`,
    KAFKA_TOPIC_DLQ: `${run}.dlq`,
    VALUATION_JOB_POLICY: options.policy,
    // Seconds instead of the production 10 minutes, so retries happen while you watch.
    VALUATION_RETRY_BACKOFF_SECONDS: '3',
    VALUATION_RETRY_BACKOFF_MULTIPLIER: '1.5',
    VALUATION_RETRY_BACKOFF_MAX_SECONDS: '20',
    VALUATION_ALERT_ATTEMPT_THRESHOLD: '2',
    VALUATION_SCHEDULER_POLL_INTERVAL_MS: '500',
    VALUATION_CLAIM_LEASE_SECONDS: '30',
    LOG_LEVEL: 'info',
  };

  say(bold(`Valuation pipeline demo — policy ${options.policy}`));
  heading('Infrastructure');
  const startedBroker = ensureBroker(brokers);
  say(`  Kafka at ${brokers}${startedBroker ? ' (started for this demo)' : ' (already running)'}`);
  await freshDatabase(databaseUrl);
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  await loadDataset(db);
  say(
    `  database ${dim(databaseUrl)} migrated and loaded: 3 portfolios, 7 instruments, business dates to ${HORIZON}`,
  );
  say(`  held back: every CHF rate, every ASML price, and the SPY price of 2024-03-08`);

  // The operators' API needs a bearer token (contract §9): one for this run, given to the scheduler. It
  // stays out of the output: the curl line reads it from a file only this user may read.
  const operatorToken = randomBytes(32).toString('hex');
  const runDir = join(REPO_ROOT, '.run');
  mkdirSync(runDir, { recursive: true });
  const tokenFile = join(runDir, `${run}-operator.token`);
  writeFileSync(tokenFile, `${operatorToken}\n`, { mode: 0o600 });
  const schedulerEnv = { ...env, OPERATOR_TOKENS: `demo:operator:${operatorToken}` };
  const processes = [
    new ManagedProcess(`${run}-scheduler`, 'scheduler', 8087, schedulerEnv),
    new ManagedProcess(`${run}-calculator-1`, 'calculator', 8084, env),
    new ManagedProcess(`${run}-calculator-2`, 'calculator', 8085, env),
  ];
  const kafka = new Kafka({ clientId: run, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();

  let stopping: Promise<void> | null = null;
  const stopAll = () =>
    (stopping ??= (async () => {
      heading('Stopping');
      for (const p of [...processes].reverse()) {
        const ms = await p.stop('SIGTERM');
        if (ms)
          say(
            `  ${p.name} exited ${p.exitCode === 0 ? 'cleanly' : `with ${p.exitCode ?? p.exitSignal}`} in ${ms} ms`,
          );
      }
      await producer.disconnect().catch(() => undefined);
      const admin = kafka.admin();
      await admin
        .connect()
        .then(() =>
          admin.deleteTopics({
            topics: Object.values(env).filter((v) => v.startsWith(`${run}.`) && !v.endsWith('.calculator')),
          }),
        )
        .catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      await db.end().catch(() => undefined);
      rmSync(tokenFile, { force: true });
      if (startedBroker) stopBroker();
    })());
  const interrupted = new Promise<never>((_, reject) => {
    process.once('SIGINT', () => reject(new Error('interrupted (Ctrl-C)')));
    process.once('SIGTERM', () => reject(new Error('terminated')));
  });

  try {
    heading('Starting the scheduler and two calculators');
    for (const p of processes) p.start();
    await Promise.race([Promise.all(processes.map((p) => p.waitReady())), interrupted]);
    for (const p of processes)
      say(`  ${p.name.replace(`${run}-`, '')} pid ${p.pid} ready at ${p.url}  ${dim(`log ${p.logFile}`)}`);
    const jobsCurl = `curl -H "Authorization: Bearer $(cat ${relative(process.cwd(), tokenFile)})" '${processes[0].url}/jobs?status=PENDING&limit=5'`;
    say(`  jobs API (this run's operator token, removed when the demo stops): ${jobsCurl}`);
    await producer.connect();

    const story = new DemoStory(db, producer, env, processes[0], options.policy, operatorToken);
    await Promise.race([story.tell(), interrupted]);

    heading("The operators' API");
    const jobs = await fetch(`${processes[0].url}/jobs?status=PENDING&limit=5`, {
      headers: { authorization: `Bearer ${operatorToken}` },
    });
    const page = (await jobs.json()) as { items?: { id: string; attempt_count: number }[] };
    say(
      `  GET /jobs?status=PENDING with the token: ${jobs.status}, ${page.items?.length ?? 0} jobs listed` +
        ` (without it: ${(await fetch(`${processes[0].url}/jobs`)).status})`,
    );
    say(`  ${jobsCurl}`);

    if (options.keepRunning) {
      heading('Still running (--keep-running)');
      for (const p of processes)
        say(`  ${p.name.replace(`${run}-`, '')}: ${p.url}/health/ready  ${p.url}/metrics`);
      say(`  jobs API: ${jobsCurl}`);
      say(`  database: ${databaseUrl}`);
      say(yellow('  press Ctrl-C to stop everything'));
      await interrupted.catch(() => undefined);
    }
    await stopAll();
    say();
    say(bold('Demo finished.'));
  } catch (error) {
    say();
    say(red(`Demo stopped: ${error instanceof Error ? error.message : String(error)}`));
    await stopAll();
    // A deliberate stop (Ctrl-C) that cleaned up after itself is a success.
    process.exitCode = error instanceof Error && /interrupted|terminated/.test(error.message) ? 0 : 1;
  }
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
