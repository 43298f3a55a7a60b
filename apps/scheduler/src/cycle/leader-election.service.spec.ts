import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import { connectTestDb, eventually, resetTables } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { schedulerConfig, startScheduler } from '../../test/scheduler-testing';
import { LEADER_APPLICATION_NAME, LeaderElectionService } from './leader-election.service';

const POLL_MS = 150;

/** Two schedulers in one process, as two Nest applications on the same database. */
describe('LeaderElectionService', () => {
  let db: Client;
  let apps: INestApplication[] = [];
  const leaders = () => apps.filter((a) => a.get(LeaderElectionService).isLeader);
  const exactlyOneLeader = () =>
    eventually(async () => (leaders().length === 1 ? leaders()[0] : undefined), 5000, 'exactly one leader');

  beforeAll(async () => {
    db = await connectTestDb();
    await resetTables(db);
  });
  beforeEach(async () => {
    const kafkaEnv = isolatedKafkaEnv('sched-leader');
    const config = schedulerConfig(kafkaEnv, { VALUATION_SCHEDULER_POLL_INTERVAL_MS: String(POLL_MS) });
    apps = [await startScheduler(config, { runLoop: true }), await startScheduler(config, { runLoop: true })];
  });
  afterEach(async () => {
    for (const app of apps) await app.close();
  });
  afterAll(() => db.end());

  it('elects exactly one leader, and keeps it', async () => {
    const leader = await exactlyOneLeader();
    await new Promise((r) => setTimeout(r, POLL_MS * 5));
    expect(leaders()).toEqual([leader]);
  });

  it('hands over to the standby when the leader shuts down', async () => {
    const leader = await exactlyOneLeader();
    const standby = apps.find((a) => a !== leader);
    const started = Date.now();

    await leader.close();
    apps = apps.filter((a) => a !== leader);

    expect(await exactlyOneLeader()).toBe(standby);
    expect(Date.now() - started).toBeLessThan(POLL_MS * 10);
  });
});

describe('LeaderElectionService: a failed lock connection', () => {
  it('ends leadership at once, without waiting for the next poll, and takes the lock again at that poll', async () => {
    const db = await connectTestDb();
    // A poll interval far longer than the test: only the connection's error event can demote it.
    const config = schedulerConfig(isolatedKafkaEnv('sched-leader-drop'), {
      VALUATION_SCHEDULER_POLL_INTERVAL_MS: '60000',
    });
    const app = await startScheduler(config, { runLoop: true });
    const election = app.get(LeaderElectionService);
    try {
      await eventually(async () => (election.isLeader ? true : undefined), 5000, 'leadership');
      const { rows } = await db.query(
        `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1 AND a.datname = current_database()`,
        [LEADER_APPLICATION_NAME],
      );
      expect(rows).toHaveLength(1);

      await db.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);

      await eventually(async () => (election.isLeader ? undefined : true), 2000, 'demotion');
      await expect(election.poll()).resolves.toBe(true);
    } finally {
      await app.close();
      await db.end();
    }
  });
});
