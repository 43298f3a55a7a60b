import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { load } from 'js-yaml';
import { register } from 'prom-client';
import { ENV_DEFAULTS } from '@app/config';
import { schedulerConfig, startScheduler } from '../apps/scheduler/test/scheduler-testing';
import { startCalculator } from './support/calculator-app';
import { connectTestDb } from './support/database';
import { isolatedKafkaEnv } from './support/kafka';

const ROOT = join(__dirname, '..');
const reference = readFileSync(join(ROOT, 'docs', 'reference.md'), 'utf8');
/** Names the page mentions as code: `name` (a route as `GET /path`). */
const named = new Set([...reference.matchAll(/`([^`]+)`/g)].map((m) => m[1]));
const missing = (names: Iterable<string>) => [...names].filter((n) => !named.has(n)).sort();

/** The routes an app serves, as `METHOD /path` with Nest's `:param` segments. */
function routesOf(app: INestApplication): string[] {
  const express = app.getHttpAdapter().getInstance() as {
    router?: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
  };
  return (express.router?.stack ?? []).flatMap((layer) =>
    layer.route ? Object.keys(layer.route.methods).map((m) => `${m.toUpperCase()} ${layer.route!.path}`) : [],
  );
}

/** The metrics an app registers, without prom-client's process metrics (named as a group). */
async function metricsOf(): Promise<string[]> {
  return (await register.getMetricsAsJSON()).map((m) => m.name);
}

/** docs/reference.md cannot drift from the code: every interface the code has, the page names. */
describe('docs/reference.md', () => {
  it('names every table the migrations create', async () => {
    const db = await connectTestDb();
    try {
      const { rows } = await db.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`,
      );
      expect(rows.length).toBeGreaterThan(10);
      expect(missing(rows.map((r) => r.table_name))).toEqual([]);
    } finally {
      await db.end();
    }
  });

  it('names every topic with its variable and default name', () => {
    const topics = Object.entries(ENV_DEFAULTS).filter(
      ([name]) => name.startsWith('KAFKA_TOPIC_') && !/PARTITIONS|REPLICATION/.test(name),
    );
    expect(topics).toHaveLength(5);
    expect(missing(topics.flat())).toEqual([]);
  });

  it('names every route both apps serve, and no route they do not', async () => {
    const kafkaEnv = isolatedKafkaEnv('reference');
    const scheduler = await startScheduler(schedulerConfig(kafkaEnv));
    const { app: calculator } = await startCalculator('reference');
    try {
      const routes = new Set([...routesOf(scheduler), ...routesOf(calculator)]);
      expect(routes.size).toBeGreaterThanOrEqual(9);
      expect(missing(routes)).toEqual([]);
      const documented = [...named].filter((n) => /^(GET|POST|PUT|PATCH|DELETE) \//.test(n));
      expect(documented.filter((r) => !routes.has(r))).toEqual([]);
    } finally {
      await calculator.close();
      await scheduler.close();
    }
  });

  it('names every metric both apps register', async () => {
    const names = new Set<string>();
    const { app: calculator } = await startCalculator('reference-metrics');
    for (const name of await metricsOf()) names.add(name);
    await calculator.close();
    const scheduler = await startScheduler(schedulerConfig(isolatedKafkaEnv('reference-metrics')));
    for (const name of await metricsOf()) names.add(name);
    await scheduler.close();
    expect(names.size).toBeGreaterThanOrEqual(15);
    expect(missing(names)).toEqual([]);
  });

  it('names every alert rule', () => {
    const rules = load(readFileSync(join(ROOT, 'docker', 'prometheus', 'alerts.yml'), 'utf8')) as {
      groups: { rules: { alert?: string }[] }[];
    };
    const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert)).filter((a): a is string => !!a);
    expect(alerts.length).toBeGreaterThanOrEqual(7);
    expect(missing(alerts)).toEqual([]);
  });

  it('is linked from the README, and no document links a file outside the repository or one missing', () => {
    const documents = [
      'README.md',
      ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`),
      ...['calculator', 'scheduler']
        .map((a) => `apps/${a}/README.md`)
        .filter((f) => existsSync(join(ROOT, f))),
    ].filter((f) => f.endsWith('.md'));
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain('](docs/reference.md)');
    const bad: string[] = [];
    for (const doc of documents) {
      const text = readFileSync(join(ROOT, doc), 'utf8');
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target)) continue; // a URL
        const path = resolve(ROOT, dirname(doc), target);
        if (relative(ROOT, path).startsWith('..') || !existsSync(path)) bad.push(`${doc}: ${target}`);
      }
      for (const [path] of text.matchAll(/\.\.\/shared\/\S*/g)) bad.push(`${doc}: ${path}`);
    }
    expect(bad).toEqual([]);
  });
});
