import type { INestApplication } from '@nestjs/common';
import type { Client } from 'pg';
import { connectTestDb, eventually, resetTables, seed } from '../../../../test/support/database';
import { isolatedKafkaEnv } from '../../../../test/support/kafka';
import { schedulerConfig, startScheduler } from '../../test/scheduler-testing';
import { LeaderElectionService } from './leader-election.service';
import { SchedulerCycleService } from './scheduler-cycle.service';

const POLL_MS = 150;
const LEASE_SECONDS = 2;

const leaseRow = async (db: Client) =>
  (
    await db.query<{ term: string; holder_pid: number; expires_at: Date }>(
      `SELECT term::text, holder_pid, expires_at FROM valuation_scheduler_leader WHERE id = 1`,
    )
  ).rows[0];

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
    const config = schedulerConfig(kafkaEnv, {
      VALUATION_SCHEDULER_POLL_INTERVAL_MS: String(POLL_MS),
      VALUATION_LEADER_LEASE_SECONDS: String(LEASE_SECONDS),
    });
    apps = [await startScheduler(config, { runLoop: true }), await startScheduler(config, { runLoop: true })];
  });
  afterEach(async () => {
    for (const app of apps) await app.close();
  });
  afterAll(() => db.end());

  it('elects exactly one leader, and keeps it', async () => {
    const leader = await exactlyOneLeader();
    const { term } = await leaseRow(db);
    await new Promise((r) => setTimeout(r, LEASE_SECONDS * 1500));
    expect(leaders()).toEqual([leader]);
    expect((await leaseRow(db)).term).toBe(term);
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

  it('replaces a leader that stops renewing while its session lives on, never with two leaders at once', async () => {
    const leader = await exactlyOneLeader();
    const standby = apps.find((a) => a !== leader)!;
    const frozen = leader.get(LeaderElectionService);
    const { term } = await leaseRow(db);
    // The stand-in for SIGSTOP inside one process: no poll of the frozen one reaches the database,
    // its connection stays open (so its backend is alive), and its lease is not renewed.
    const poll = jest.spyOn(frozen, 'poll').mockResolvedValue(false);
    const frozenAt = Date.now();
    let overlap = false;
    const watch = setInterval(() => (overlap ||= leaders().length > 1), 10);
    try {
      await eventually(
        async () => (standby.get(LeaderElectionService).isLeader ? true : undefined),
        LEASE_SECONDS * 3000,
        'the standby to take over',
      );
    } finally {
      clearInterval(watch);
    }
    const takeoverMs = Date.now() - frozenAt;
    expect(overlap).toBe(false);
    expect(takeoverMs).toBeGreaterThanOrEqual(LEASE_SECONDS * 1000 * 0.9);
    expect(takeoverMs).toBeLessThan(LEASE_SECONDS * 1000 + POLL_MS * 10);
    expect(Number((await leaseRow(db)).term)).toBe(Number(term) + 1);
    // Already knew by its own clock that it may no longer lead; its next poll makes it a standby.
    expect(frozen.isLeader).toBe(false);
    poll.mockRestore();
    await expect(frozen.poll()).resolves.toBe(false);
    expect(leaders()).toEqual([standby]);
  });

  it('dispatches nothing when it lost leadership between claiming and publishing: the claims go back', async () => {
    await resetTables(db);
    await seed.job(db, 'P1', 'S1', '2025-01-02');
    const cycle = apps[0].get(SchedulerCycleService);
    await expect(cycle.dispatch(() => false)).resolves.toBe(0);
    const { rows } = await db.query(`SELECT status, claim_token FROM portfolio_valuation_jobs`);
    expect(rows).toEqual([{ status: 'PENDING', claim_token: null }]);
  });
});

describe('LeaderElectionService: a failed lease connection', () => {
  it('ends leadership at once, without waiting for the next poll, and takes the lease again at that poll', async () => {
    const db = await connectTestDb();
    // A poll interval far longer than the test: only the connection's error event can demote it.
    const config = schedulerConfig(isolatedKafkaEnv('sched-leader-drop'), {
      VALUATION_SCHEDULER_POLL_INTERVAL_MS: '60000',
      VALUATION_LEADER_LEASE_SECONDS: '600',
    });
    const app = await startScheduler(config, { runLoop: true });
    const election = app.get(LeaderElectionService);
    try {
      await eventually(async () => (election.isLeader ? true : undefined), 5000, 'leadership');
      const { holder_pid: pid, term } = await leaseRow(db);

      await db.query('SELECT pg_terminate_backend($1)', [pid]);

      await eventually(async () => (election.isLeader ? undefined : true), 2000, 'demotion');
      // Its backend is gone, so the lease can be taken at once although it has 10 minutes to run.
      await expect(election.poll()).resolves.toBe(true);
      expect(Number((await leaseRow(db)).term)).toBe(Number(term) + 1);
    } finally {
      await app.close();
      await db.end();
    }
  });
});
