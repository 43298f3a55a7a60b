import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { CORE_SCHEMA, load, mergeTag, YAML11_SCHEMA } from 'js-yaml';
import { ENV_DEFAULTS, EnvName, loadConfig } from '@app/config';

/**
 * The deployment files (docker/) checked without a Docker engine: the compose file against the
 * configuration schema, the Dockerfile and package.json; Prometheus's targets against the compose
 * services; and the apps' health checks run for real against a local HTTP server.
 */

const ROOT = join(__dirname, '..');
const DOCKER_DIR = join(ROOT, 'docker');
const readText = (...path: string[]) => readFileSync(join(ROOT, ...path), 'utf8');
/** Compose resolves YAML merge keys (`<<: *app`), so the spec does too. */
const parseYaml = (text: string): unknown => load(text, { schema: CORE_SCHEMA.withTags(mergeTag) });

// ---------------------------------------------------------------- compose model -------------------

type EnvValue = string | number | boolean | null;

interface HealthCheck {
  test?: string | string[];
  disable?: boolean;
}

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  environment?: Record<string, EnvValue> | string[];
  ports?: (string | number)[];
  healthcheck?: HealthCheck;
  depends_on?: string[] | Record<string, { condition?: string }>;
  restart?: string | boolean;
  stop_grace_period?: string;
  volumes?: string[];
  secrets?: (string | { source: string; target?: string })[];
}

interface ComposeFile {
  services: Record<string, Service>;
  secrets?: Record<string, { environment?: string; file?: string }>;
}

interface PrometheusConfig {
  global?: { scrape_interval?: string };
  rule_files?: string[];
  scrape_configs?: { job_name: string; metrics_path?: string; static_configs?: { targets?: string[] }[] }[];
}

/**
 * The variables compose requires (`${NAME:?message}`): the database and Grafana admin passwords, which
 * have no default.
 * The spec runs the stack with these set and nothing else.
 */
const REQUIRED_SECRETS: Record<string, string> = {
  POSTGRES_PASSWORD: 'superuser-pw',
  VALUATION_DB_MIGRATOR_PASSWORD: 'migrator-pw',
  VALUATION_DB_APP_PASSWORD: 'app-pw',
  GRAFANA_ADMIN_PASSWORD: 'grafana-pw',
};

/**
 * Compose's interpolation of `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?message}` and
 * `$$`, against `env` (by default only the required passwords): what the stack runs with when the
 * operator sets nothing else. A required variable missing throws, as compose refuses to start.
 */
function interpolate(value: string, env: Record<string, string> = REQUIRED_SECRETS): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*)|:\?([^}]*))?\}/g,
    (match, name: string, dash?: string, fallback?: string, message?: string) => {
      if (match === '$$') return '$';
      if (message !== undefined) {
        if (!env[name]) throw new Error(`required variable ${name} is missing a value: ${message}`);
        return env[name];
      }
      return env[name] ?? (dash ? (fallback ?? '') : '');
    },
  );
}

function interpolateAll(node: unknown, env?: Record<string, string>): unknown {
  if (typeof node === 'string') return interpolate(node, env);
  if (Array.isArray(node)) return node.map((item) => interpolateAll(item, env));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, interpolateAll(value, env)]));
  }
  return node;
}

const COMPOSE_TEXT = readText('docker', 'compose.yml');
/** As written (before interpolation). */
const rawCompose = parseYaml(COMPOSE_TEXT) as ComposeFile;
/** As compose runs it with no variable set. */
const compose = interpolateAll(rawCompose) as ComposeFile;
const services = compose.services;

const APP_SERVICES = ['migrate', 'scheduler', 'scheduler-standby', 'calculator-1', 'calculator-2'];
const LONG_RUNNING_APPS = APP_SERVICES.filter((name) => name !== 'migrate');
/** The Kafka cluster: three KRaft nodes, each broker and controller. */
const KAFKA_SERVICES = ['kafka-1', 'kafka-2', 'kafka-3'];
const EXPECTED_SERVICES = ['postgres', ...KAFKA_SERVICES, ...APP_SERVICES, 'prometheus', 'grafana'];
/** Host port of each app (contract: scheduler 8087, standby 8088, calculators 8084 and 8085). */
const PUBLISHED: Record<string, number> = {
  scheduler: 8087,
  'scheduler-standby': 8088,
  'calculator-1': 8084,
  'calculator-2': 8085,
};

function environmentOf(service: Service): Record<string, EnvValue> {
  const env = service.environment ?? {};
  if (!Array.isArray(env)) return env;
  return Object.fromEntries(
    env.map((entry) =>
      entry.includes('=')
        ? [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]
        : [entry, null],
    ),
  );
}

function stringEnv(service: Service): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environmentOf(service)).map(([k, v]) => [k, v === null ? '' : String(v)]),
  );
}

function words(command: string | string[] | undefined): string[] | undefined {
  if (command === undefined) return undefined;
  return Array.isArray(command) ? command : command.trim().split(/\s+/);
}

function dependsOn(service: Service): Record<string, string> {
  const deps = service.depends_on ?? {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, 'service_started']));
  return Object.fromEntries(
    Object.entries(deps).map(([name, dep]) => [name, dep.condition ?? 'service_started']),
  );
}

/** "8088:8087", "127.0.0.1:8088:8087", "8087/tcp" → published and container port. */
function parsePort(spec: string | number): { published?: number; container: number } {
  const parts = String(spec)
    .replace(/\/tcp$/, '')
    .split(':');
  const container = Number(parts[parts.length - 1]);
  const published = parts.length > 1 ? Number(parts[parts.length - 2]) : undefined;
  return { published, container };
}

/** The host address a port is published on (compose's default, every interface, when none is given). */
function hostOf(spec: string | number): string {
  const parts = String(spec).split(':');
  return parts.length > 2 ? parts[0] : '0.0.0.0';
}

// ---------------------------------------------------------------- Dockerfile model ----------------

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  name?: string;
  from: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): { stages: Stage[] } {
  const logical: string[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue; // comments (and parser directives); also inside continuations
    if (/\\\s*$/.test(line)) {
      pending += line.replace(/\\\s*$/, ' ');
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full) logical.push(full);
  }
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = keyword.toUpperCase();
    if (upper === 'FROM') {
      const [image, as, name] = args.replace(/--platform=\S+\s*/, '').split(/\s+/);
      const from = image.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n: string) => globalArgs[n] ?? '');
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0) {
      if (upper === 'ARG') {
        const [name, value] = args.split('=');
        globalArgs[name] = value ?? '';
      }
    } else {
      stages[stages.length - 1].instructions.push({ keyword: upper, args });
    }
  }
  return { stages };
}

/** A stage's instructions together with those of the stages it is built FROM, base first. */
function lineage(stages: Stage[], stage: Stage): Instruction[] {
  const base = stages.find((s) => s.name !== undefined && s.name === stage.from);
  return [...(base ? lineage(stages, base) : []), ...stage.instructions];
}

const { stages } = parseDockerfile(readText('docker', 'Dockerfile'));
const runtime = stages[stages.length - 1];
const runsOf = (instructions: Instruction[]) =>
  instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);

/** The image's default command (CMD in exec form). */
function dockerfileCmd(): string[] {
  const cmd = runtime.instructions.filter((i) => i.keyword === 'CMD').pop();
  if (!cmd) return [];
  return cmd.args.startsWith('[') ? (JSON.parse(cmd.args) as string[]) : ['/bin/sh', '-c', cmd.args];
}

/** What a service runs: its `command`, else the image's CMD. */
function effectiveCommand(name: string): string[] {
  return words(services[name].command) ?? dockerfileCmd();
}

/** `dist/apps/<app>/src/main.js` in a command, and which app it is. */
function entryPoint(command: string[]): { path: string; app: string } | undefined {
  for (const word of command) {
    const match = /^dist\/apps\/([a-z-]+)\/src\/main\.js$/.exec(word);
    if (match) return { path: word, app: match[1] };
  }
  return undefined;
}

const PORT_VARIABLE: Record<string, EnvName> = {
  calculator: 'CALCULATOR_HTTP_PORT',
  scheduler: 'SCHEDULER_HTTP_PORT',
};

/** The HTTP port variable a long-running app service listens on, from what it runs. */
function portVariable(name: string): EnvName {
  const app = entryPoint(effectiveCommand(name))?.app ?? '';
  const variable = PORT_VARIABLE[app];
  if (!variable) throw new Error(`${name} runs no HTTP app (command: ${effectiveCommand(name).join(' ')})`);
  return variable;
}

// ---------------------------------------------------------------- specs ---------------------------

describe('docker/compose.yml', () => {
  it('parses, and defines exactly the services of the deployment', () => {
    expect(Object.keys(services).sort()).toEqual([...EXPECTED_SERVICES].sort());
  });

  it('gives every interpolated variable a default except the passwords, which have none', () => {
    const uses = COMPOSE_TEXT.split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n')
      .match(/\$\{[^}]*\}|\$[A-Za-z_]\w*/g);
    expect(uses).not.toBeNull();
    const required = new Set<string>();
    for (const use of uses ?? []) {
      // `${NAME:?message}`: compose refuses to start without it.
      const needed = /^\$\{([A-Za-z_]\w*):\?[^}]+\}$/.exec(use);
      if (needed) {
        required.add(needed[1]);
        continue;
      }
      // An empty default (`${OPERATOR_TOKENS:-}`) is a default too: compose sets the variable to ''.
      expect(use).toMatch(/^\$\{[A-Za-z_]\w*:-[^}]*\}$/);
      // No password has a default that is a password.
      if (/PASSWORD/.test(use)) expect(use).toMatch(/^\$\{[A-Za-z_]\w*:-\}$/);
    }
    expect([...required].sort()).toEqual(Object.keys(REQUIRED_SECRETS).sort());
    // And it does refuse: without any one of them, interpolation fails naming it.
    for (const name of Object.keys(REQUIRED_SECRETS)) {
      const env = { ...REQUIRED_SECRETS, [name]: '' };
      expect(() => interpolateAll(rawCompose, env)).toThrow(new RegExp(`required variable ${name} `));
    }
    // A password appears nowhere in the file itself.
    expect(COMPOSE_TEXT).not.toMatch(/postgres:\/\/[^@\s]*:[^@\s]*@/);
  });

  it('runs every app service from the one image that docker/Dockerfile builds from the repository root', () => {
    const images = new Set(APP_SERVICES.map((name) => services[name].image));
    expect(images.size).toBe(1);
    for (const name of APP_SERVICES) {
      const build = services[name].build;
      expect(typeof build).toBe('object');
      const { context, dockerfile } = build as { context?: string; dockerfile?: string };
      expect(resolve(DOCKER_DIR, context ?? '.')).toBe(ROOT);
      expect(dockerfile).toBe('docker/Dockerfile');
    }
  });

  it('sets every configuration variable of the schema on every app service, as a string', () => {
    for (const name of APP_SERVICES) {
      const env = environmentOf(rawCompose.services[name]);
      expect({ service: name, keys: Object.keys(env).sort() }).toEqual({
        service: name,
        keys: Object.keys(ENV_DEFAULTS).sort(),
      });
      for (const [key, value] of Object.entries(env))
        expect({ service: name, key, type: typeof value }).toEqual({ service: name, key, type: 'string' });
    }
  });

  it('points the apps at the compose postgres and kafka, and keeps the contract defaults otherwise', () => {
    const postgresEnv = stringEnv(services.postgres);
    const advertised = KAFKA_SERVICES.flatMap((name) =>
      stringEnv(services[name]).KAFKA_ADVERTISED_LISTENERS.split(','),
    );
    for (const name of APP_SERVICES) {
      const env = stringEnv(services[name]);
      const app = entryPoint(effectiveCommand(name))?.app === 'calculator' ? 'calculator' : 'scheduler';
      // Boots: the same validation the processes run at startup accepts it, with the secret file
      // compose mounts at DATABASE_PASSWORD_FILE standing in a temporary one.
      const role = name === 'migrate' ? 'migrator' : 'app';
      const secret = `db_${role}_password`;
      const source = compose.secrets?.[secret]?.environment ?? '';
      const secretFile = join(mkdtempSync(join(tmpdir(), 'compose-secret-')), secret);
      writeFileSync(secretFile, `${REQUIRED_SECRETS[source]}\n`);
      const config = loadConfig(app, { ...env, DATABASE_PASSWORD_FILE: secretFile });
      rmSync(dirname(secretFile), { recursive: true });

      // The apps as valuation_app (DML only), the migration as valuation_migrator; neither as the
      // superuser. The password is no part of the URL: it comes from the role's secret file, which
      // compose fills from the variable 10-roles.sh gave the role.
      const db = new URL(config.database.connection.url);
      expect(db.hostname).toBe('postgres');
      expect(db.port).toBe('5432');
      expect(decodeURIComponent(db.username)).toBe(`valuation_${role}`);
      expect(decodeURIComponent(db.username)).not.toBe(postgresEnv.POSTGRES_USER);
      expect(db.password).toBe('');
      expect(db.pathname).toBe(`/${postgresEnv.POSTGRES_DB}`);
      expect(env.DATABASE_PASSWORD_FILE).toBe(`/run/secrets/${secret}`);
      expect(services[name].secrets).toEqual([secret]);
      expect(source).toBe(`VALUATION_DB_${role.toUpperCase()}_PASSWORD`);
      // The same password 10-roles.sh gives the role.
      expect(postgresEnv[source]).toBe(REQUIRED_SECRETS[source]);
      expect(new URL(config.database.connection.connectionString()).password).toBe(REQUIRED_SECRETS[source]);

      // Every broker of the cluster, each by the address it advertises.
      expect(config.kafka.brokers).toEqual(['kafka-1:9092', 'kafka-2:9092', 'kafka-3:9092']);
      for (const broker of config.kafka.brokers) expect(advertised).toContain(`PLAINTEXT://${broker}`);
      // Topics with a replica on each broker (the contract's default is 1, for a single broker).
      expect(config.kafka.topicReplicationFactor).toBe(3);
      expect(config.kafka.topicReplicationFactor).toBeLessThanOrEqual(KAFKA_SERVICES.length);

      // In a container the apps listen on every interface, as the image sets it (contract §10).
      expect(config.httpHost).toBe('0.0.0.0');
      expect(readFileSync(join(ROOT, 'docker/Dockerfile'), 'utf8')).toMatch(
        /^ENV .*\bHTTP_HOST=0\.0\.0\.0\b/m,
      );

      const wiring = [
        'DATABASE_URL',
        'DATABASE_PASSWORD_FILE',
        'KAFKA_BROKERS',
        'KAFKA_TOPIC_REPLICATION_FACTOR',
        'HTTP_HOST',
      ];
      const rest = Object.fromEntries(Object.entries(env).filter(([key]) => !wiring.includes(key)));
      const defaults = Object.fromEntries(
        Object.entries(ENV_DEFAULTS).filter(([key]) => !wiring.includes(key)),
      );
      expect({ service: name, env: rest }).toEqual({ service: name, env: defaults });
    }
  });

  it('runs the calculator by default, and the scheduler and the migration by command', () => {
    const expected: Record<string, string> = {
      migrate: 'tools',
      scheduler: 'scheduler',
      'scheduler-standby': 'scheduler',
      'calculator-1': 'calculator',
      'calculator-2': 'calculator',
    };
    for (const name of APP_SERVICES) {
      const command = effectiveCommand(name);
      expect({ service: name, runs: command[0], app: entryPoint(command)?.app }).toEqual({
        service: name,
        runs: 'node',
        app: expected[name],
      });
    }
    expect(services['calculator-1'].command).toBeUndefined();
    expect(effectiveCommand('migrate').slice(-1)).toEqual(['db:migrate']);
  });

  it("publishes each long-running app's HTTP port on its own host port, and nothing for the migration", () => {
    for (const name of LONG_RUNNING_APPS) {
      const ports = (services[name].ports ?? []).map(parsePort);
      const listensOn = Number(stringEnv(services[name])[portVariable(name)]);
      expect({ service: name, ports }).toEqual({
        service: name,
        ports: [{ published: PUBLISHED[name], container: listensOn }],
      });
    }
    expect(services.migrate.ports).toBeUndefined();
    expect((services.prometheus.ports ?? []).map(parsePort)).toEqual([{ published: 9090, container: 9090 }]);

    const hostPorts = Object.values(services).flatMap((s) =>
      (s.ports ?? []).map((p) => parsePort(p).published),
    );
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
    // Published on the host's loopback only; PostgreSQL and the brokers not at all.
    const hosts = Object.values(services).flatMap((s) => (s.ports ?? []).map(hostOf));
    expect(new Set(hosts)).toEqual(new Set(['127.0.0.1']));
    for (const name of ['postgres', ...KAFKA_SERVICES])
      expect({ name, ports: services[name].ports }).toEqual({ name });
  });

  it('health-checks every long-running service; the migration, a one-shot job, explicitly has none', () => {
    for (const name of EXPECTED_SERVICES.filter((n) => n !== 'migrate')) {
      const check = services[name].healthcheck;
      expect({ service: name, disabled: check?.disable ?? false }).toEqual({
        service: name,
        disabled: false,
      });
      expect({ service: name, test: words(check?.test)?.[0] }).toEqual({
        service: name,
        test: expect.stringMatching(/^CMD(-SHELL)?$/),
      });
    }
    expect(words(services.postgres.healthcheck?.test)).toContain('pg_isready');
    for (const name of KAFKA_SERVICES)
      expect({ service: name, check: words(services[name].healthcheck?.test)?.[1] }).toEqual({
        service: name,
        check: '/opt/kafka/bin/kafka-broker-api-versions.sh',
      });
    expect(services.migrate.healthcheck).toEqual({ disable: true });
  });

  it('starts the apps after a successful migration and healthy postgres and kafka nodes; the migration after postgres', () => {
    for (const name of LONG_RUNNING_APPS) {
      expect({ service: name, depends_on: dependsOn(services[name]) }).toEqual({
        service: name,
        depends_on: {
          postgres: 'service_healthy',
          'kafka-1': 'service_healthy',
          'kafka-2': 'service_healthy',
          'kafka-3': 'service_healthy',
          migrate: 'service_completed_successfully',
        },
      });
    }
    expect(dependsOn(services.migrate)).toEqual({ postgres: 'service_healthy' });
    // A service_healthy dependency on a service without a health check would never start.
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, condition] of Object.entries(dependsOn(service))) {
        expect({ service: name, dependency, exists: dependency in services }).toEqual({
          service: name,
          dependency,
          exists: true,
        });
        if (condition === 'service_healthy') expect(services[dependency].healthcheck?.test).toBeDefined();
      }
    }
  });

  it('restarts the long-running services but never the migration, and gives the apps 15 s to stop', () => {
    expect(services.migrate.restart).toBe('no');
    // Quoted: a YAML 1.1 reader (docker-compose v1, many linters) would read a bare `no` as false.
    const yaml11 = load(COMPOSE_TEXT, { schema: YAML11_SCHEMA }) as ComposeFile;
    expect(yaml11.services.migrate.restart).toBe('no');
    for (const name of EXPECTED_SERVICES.filter((n) => n !== 'migrate')) {
      expect({ service: name, restart: services[name].restart }).toEqual({
        service: name,
        restart: expect.stringMatching(/^(always|unless-stopped|on-failure)/),
      });
    }
    for (const name of APP_SERVICES) {
      expect({ service: name, stop_grace_period: services[name].stop_grace_period }).toEqual({
        service: name,
        stop_grace_period: '15s',
      });
    }
  });

  it('runs three KRaft nodes, each broker and controller, replicating 3 ways, creating no topic by itself', () => {
    const envs = KAFKA_SERVICES.map((name) => stringEnv(services[name]));
    // One cluster: the same id, the same static voter set naming every node's controller listener.
    expect(new Set(envs.map((env) => env.CLUSTER_ID)).size).toBe(1);
    expect(envs[0].CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const voters = envs[0].KAFKA_CONTROLLER_QUORUM_VOTERS;
    expect(voters.split(',').sort()).toEqual(
      KAFKA_SERVICES.map((name) => `${stringEnv(services[name]).KAFKA_NODE_ID}@${name}:9093`).sort(),
    );
    expect(new Set(envs.map((env) => env.KAFKA_NODE_ID)).size).toBe(KAFKA_SERVICES.length);

    KAFKA_SERVICES.forEach((name, i) => {
      const kafka = services[name];
      const env = envs[i];
      expect(kafka.image).toMatch(/^apache\/kafka:3\.9\.\d+$/);
      expect(env.KAFKA_PROCESS_ROLES.split(',').sort()).toEqual(['broker', 'controller']);
      expect(env.KAFKA_LISTENERS.split(',').sort()).toEqual(['CONTROLLER://:9093', 'PLAINTEXT://:9092']);
      expect({ service: name, advertised: env.KAFKA_ADVERTISED_LISTENERS }).toEqual({
        service: name,
        advertised: `PLAINTEXT://${name}:9092`,
      });
      expect(env.KAFKA_CONTROLLER_LISTENER_NAMES).toBe('CONTROLLER');
      expect(env.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(voters);
      expect(env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP.split(',').sort()).toEqual([
        'CONTROLLER:PLAINTEXT',
        'PLAINTEXT:PLAINTEXT',
      ]);
      // Internal topics on every node, writable with one node lost; so are the apps' (min.insync 2).
      expect({
        service: name,
        offsets: env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR,
        transactions: env.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR,
        transactionsMinIsr: env.KAFKA_TRANSACTION_STATE_LOG_MIN_ISR,
        defaultReplication: env.KAFKA_DEFAULT_REPLICATION_FACTOR,
        minInsync: env.KAFKA_MIN_INSYNC_REPLICAS,
      }).toEqual({
        service: name,
        offsets: '3',
        transactions: '3',
        transactionsMinIsr: '2',
        defaultReplication: '3',
        minInsync: '2',
      });
      expect(env.KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS).toBe('0');
      expect(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
      // Each node's data survives a restart: its log directory is a volume of its own.
      expect(kafka.volumes).toEqual([`${name}-data:${env.KAFKA_LOG_DIRS}`]);
    });
  });

  it('creates the two roles with scripts/db/roles.sql when postgres initialises its volume', () => {
    const script = 'docker/postgres/10-roles.sh';
    expect(services.postgres.volumes).toEqual(
      expect.arrayContaining([
        `./postgres/10-roles.sh:/docker-entrypoint-initdb.d/10-roles.sh:ro`,
        `../scripts/db/roles.sql:/valuation/roles.sql:ro`,
      ]),
    );
    // Executable, so the image's entrypoint runs it rather than sourcing it.
    expect(statSync(join(ROOT, script)).mode & 0o111).toBe(0o111);
    const text = readText(script);
    expect(text).toContain('-f /valuation/roles.sql');
    expect(text).toContain(
      '-v migrator=valuation_migrator -v migrator_password="$VALUATION_DB_MIGRATOR_PASSWORD"',
    );
    expect(text).toContain('-v app=valuation_app -v app_password="$VALUATION_DB_APP_PASSWORD"');
    expect(existsSync(join(ROOT, 'scripts/db/roles.sql'))).toBe(true);
  });

  it('runs postgres 15 with its data on a volume', () => {
    expect(services.postgres.image).toMatch(/^postgres:15\.\d+(-[a-z]+)?$/);
    expect(services.postgres.volumes).toContainEqual(
      expect.stringMatching(/^[\w-]+:\/var\/lib\/postgresql\/data$/),
    );
  });

  it('mounts prometheus.yml where the image reads it, and alerts.yml beside it where rule_files finds it', () => {
    const prometheus = services.prometheus;
    const mounts = Object.fromEntries(
      (prometheus.volumes ?? []).map((volume) => {
        const [source, target] = volume.split(':');
        return [source, target];
      }),
    );
    expect(prometheus.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    // The image's default --config.file, as long as the command is not overridden.
    expect(prometheus.command).toBeUndefined();
    expect(mounts['./prometheus/prometheus.yml']).toBe('/etc/prometheus/prometheus.yml');
    expect(existsSync(join(DOCKER_DIR, 'prometheus', 'prometheus.yml'))).toBe(true);
    expect(mounts['./prometheus/alerts.yml']).toBe(
      posix.join(posix.dirname(mounts['./prometheus/prometheus.yml']), 'alerts.yml'),
    );
  });

  describe('app health checks, run with node against a local server', () => {
    let server: Server;
    let port = 0;
    let ready = true;

    beforeAll(async () => {
      server = createServer((req, res) => {
        res.statusCode = req.url === '/health/ready' ? (ready ? 200 : 503) : 404;
        res.end();
      });
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      port = (server.address() as AddressInfo).port;
    });

    afterAll(async () => {
      if (server.listening) await new Promise<void>((done) => server.close(() => done()));
    });

    /** Runs the check's command as Docker would (exec form, the variables of the container). */
    function runCheck(name: string, env: Record<string, string>): Promise<number> {
      const test = words(services[name].healthcheck?.test) ?? [];
      expect(test.slice(0, 2)).toEqual(['CMD', 'node']);
      // Compose would interpolate a `$` in the script.
      expect(rawCompose.services[name].healthcheck?.test?.toString()).not.toContain('$');
      return new Promise((done) => {
        execFile(process.execPath, test.slice(2), { env, timeout: 15_000 }, (error) => {
          done(error ? (typeof error.code === 'number' ? error.code : -1) : 0);
        });
      });
    }

    it("passes only when the app's own /health/ready answers OK on the port of its *_HTTP_PORT", async () => {
      for (const name of LONG_RUNNING_APPS) {
        const own = portVariable(name);
        const other = own === 'CALCULATOR_HTTP_PORT' ? 'SCHEDULER_HTTP_PORT' : 'CALCULATOR_HTTP_PORT';
        ready = true;
        expect({ service: name, exit: await runCheck(name, { [own]: String(port) }) }).toEqual({
          service: name,
          exit: 0,
        });
        // Reading the other app's variable would probe the wrong port.
        expect({ service: name, exit: await runCheck(name, { [other]: String(port) }) }).toEqual({
          service: name,
          exit: 1,
        });
        ready = false;
        expect({ service: name, exit: await runCheck(name, { [own]: String(port) }) }).toEqual({
          service: name,
          exit: 1,
        });
      }
    });

    it('fails when nothing listens', async () => {
      await new Promise<void>((done) => server.close(() => done()));
      for (const name of LONG_RUNNING_APPS) {
        expect({ service: name, exit: await runCheck(name, { [portVariable(name)]: String(port) }) }).toEqual(
          { service: name, exit: 1 },
        );
      }
    });
  });
});

describe('docker/grafana', () => {
  interface Panel {
    type: string;
    title: string;
    datasource?: { uid?: string };
    targets?: { expr: string }[];
  }
  const dashboard = JSON.parse(readText('docker', 'grafana', 'dashboards', 'valuation-pipeline.json')) as {
    uid: string;
    panels: Panel[];
  };
  const datasources = (
    parseYaml(readText('docker', 'grafana', 'provisioning', 'datasources', 'prometheus.yml')) as {
      datasources: { uid: string; type: string; url: string }[];
    }
  ).datasources;
  const grafana = rawCompose.services.grafana;

  it('provisions the compose Prometheus as the data source every panel names', () => {
    expect(datasources).toEqual([
      expect.objectContaining({
        uid: 'valuation-prometheus',
        type: 'prometheus',
        url: 'http://prometheus:9090',
      }),
    ]);
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(15);
    for (const panel of panels) {
      expect({ panel: panel.title, uid: panel.datasource?.uid }).toEqual({
        panel: panel.title,
        uid: 'valuation-prometheus',
      });
      expect({ panel: panel.title, targets: (panel.targets ?? []).length > 0 }).toEqual({
        panel: panel.title,
        targets: true,
      });
    }
  });

  it('is started by compose next to Prometheus, pinned, on loopback, with a required admin password', () => {
    expect(grafana.image).toMatch(/^grafana\/grafana:\d+\.\d+\.\d+$/);
    const mounts = new Map((grafana.volumes ?? []).map((v) => [v.split(':')[0], v.split(':')[1]]));
    expect(mounts.get('./grafana/provisioning')).toBe('/etc/grafana/provisioning');
    expect(mounts.get('./grafana/dashboards')).toBe('/var/lib/grafana/dashboards');
    const provider = parseYaml(
      readText('docker', 'grafana', 'provisioning', 'dashboards', 'valuation.yml'),
    ) as {
      providers: { options: { path: string } }[];
    };
    expect(provider.providers[0].options.path).toBe('/var/lib/grafana/dashboards');
    expect(environmentOf(grafana).GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:\?/);
    expect(environmentOf(grafana).GF_AUTH_ANONYMOUS_ENABLED).toBe('false');
  });
});

describe('docker/prometheus/prometheus.yml', () => {
  const config = parseYaml(readText('docker', 'prometheus', 'prometheus.yml')) as PrometheusConfig;

  it('scrapes every 15 s and loads the alert rules of alerts.yml', () => {
    expect(config.global?.scrape_interval).toBe('15s');
    expect(config.rule_files).toContain('alerts.yml');
  });

  it("scrapes /metrics of every long-running app, on the compose service's HTTP port, under the contract's job names", () => {
    const scraped: Record<string, string> = {};
    for (const job of config.scrape_configs ?? []) {
      expect({ job: job.job_name, metrics_path: job.metrics_path ?? '/metrics' }).toEqual({
        job: job.job_name,
        metrics_path: '/metrics',
      });
      for (const target of (job.static_configs ?? []).flatMap((c) => c.targets ?? [])) {
        const [host, targetPort] = target.split(':');
        expect({ target, isService: host in services }).toEqual({ target, isService: true });
        expect({ target, port: targetPort }).toEqual({
          target,
          port: stringEnv(services[host])[portVariable(host)],
        });
        scraped[host] = job.job_name;
      }
    }
    const expectedJobs = Object.fromEntries(
      LONG_RUNNING_APPS.map((name) => [name, `valuation-${entryPoint(effectiveCommand(name))?.app}`]),
    );
    expect(scraped).toEqual(expectedJobs);
    expect(new Set(Object.values(scraped))).toEqual(new Set(['valuation-scheduler', 'valuation-calculator']));
  });
});

describe('docker/Dockerfile', () => {
  const scripts = (JSON.parse(readText('package.json')) as { scripts: Record<string, string> }).scripts;

  it('builds in stages from one pinned release of a supported Node LTS (22 or 24)', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    const stageNames = new Set(stages.map((s) => s.name));
    for (const stage of stages) {
      if (!stageNames.has(stage.from))
        expect({ stage: stage.name, from: stage.from }).toEqual({
          stage: stage.name,
          from: expect.stringMatching(/^node:(22|24)\.\d+\.\d+-bookworm-slim$/),
        });
    }
    expect(stageNames.has(runtime.from)).toBe(false);
  });

  it('builds, and checks at build time, every entry point that compose runs and package.json names', () => {
    const copyDist = runtime.instructions.find(
      (i) => i.keyword === 'COPY' && /--from=\S+\s+\S*dist\/?\s/.test(i.args),
    );
    expect(copyDist).toBeDefined();
    const buildStage = stages.find((s) => s.name === /--from=(\S+)/.exec(copyDist?.args ?? '')?.[1]);
    expect(buildStage).toBeDefined();
    const buildRuns = runsOf(lineage(stages, buildStage as Stage)).join('\n');
    expect(buildRuns).toMatch(/\bnpm ci\b/);
    expect(buildRuns).not.toMatch(/\bnpm ci\b[^\n&;|]*--omit=dev/);
    expect(buildRuns).toMatch(/\bnpm run build\b/);
    expect(scripts.build).toMatch(/\bnest build\b/);

    const inScripts = new Set(
      Object.values(scripts).flatMap((s) => s.match(/dist\/apps\/[a-z-]+\/src\/main\.js/g) ?? []),
    );
    const entryPoints = new Set(APP_SERVICES.map((name) => entryPoint(effectiveCommand(name))?.path));
    expect([...entryPoints].sort()).toEqual([
      'dist/apps/calculator/src/main.js',
      'dist/apps/scheduler/src/main.js',
      'dist/apps/tools/src/main.js',
    ]);
    for (const path of entryPoints) {
      expect({ path, inPackageScripts: inScripts.has(path as string) }).toEqual({
        path,
        inPackageScripts: true,
      });
      expect({ path, checkedByBuild: buildRuns.includes(`test -f ${path}`) }).toEqual({
        path,
        checkedByBuild: true,
      });
    }
    expect(scripts['start:calculator']).toContain('dist/apps/calculator/src/main.js');
    expect(scripts['start:scheduler']).toContain('dist/apps/scheduler/src/main.js');
    expect(scripts['db:migrate']).toContain('dist/apps/tools/src/main.js db:migrate');
  });

  it('runs production dependencies only, with NODE_ENV=production, as the non-root node user', () => {
    const runs = runsOf(runtime.instructions);
    expect(runs.some((r) => /\bnpm ci\b[^\n&;|]*--omit=dev/.test(r))).toBe(true);
    expect(runs.filter((r) => /\bnpm ci\b/.test(r)).every((r) => /--omit=dev/.test(r))).toBe(true);
    expect(runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args)).toContainEqual(
      expect.stringMatching(/(^|\s)NODE_ENV[= ]production(\s|$)/),
    );
    const users = runtime.instructions.filter((i) => i.keyword === 'USER').map((i) => i.args.split(':')[0]);
    expect(users.pop()).toBe('node');
    // Nothing after the last USER switches back to root.
    const lastUser = runtime.instructions.map((i) => i.keyword).lastIndexOf('USER');
    expect(runtime.instructions.slice(lastUser + 1).filter((i) => i.keyword === 'RUN')).toEqual([]);
  });

  it('runs the calculator by default, and leaves health checks to compose', () => {
    expect(dockerfileCmd()).toEqual(['node', 'dist/apps/calculator/src/main.js']);
    expect(stages.flatMap((s) => s.instructions).filter((i) => i.keyword === 'HEALTHCHECK')).toEqual([]);
  });

  it('copies only sources that exist and that .dockerignore lets into the build context', () => {
    const ignore = readText('.dockerignore')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    for (const required of ['node_modules', 'dist', '.kafka', '.git', 'coverage', '*.log'])
      expect(ignore).toContain(required);

    const toRegExp = (pattern: string) =>
      new RegExp(
        `^${pattern
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\//g, '(?:.*/)?')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]')}(?:/.*)?$`,
      );
    const excluded = ignore.filter((p) => !p.startsWith('!')).map(toRegExp);
    const sources = stages
      .flatMap((s) => s.instructions)
      .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) =>
        i.args
          .split(/\s+/)
          .filter((w) => !w.startsWith('--'))
          .slice(0, -1),
      );
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'apps', 'libs']));
    for (const source of sources) {
      expect({ source, exists: existsSync(join(ROOT, source)) }).toEqual({ source, exists: true });
      expect({ source, ignored: excluded.some((re) => re.test(source)) }).toEqual({ source, ignored: false });
    }
  });
});
