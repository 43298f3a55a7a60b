import { SchedulerRegistry } from '@nestjs/schedule';
import type { AppConfig } from '@app/config';
import type { LeaderElectionService } from './leader-election.service';
import type { CycleReport, SchedulerCycleService } from './scheduler-cycle.service';
import { BUSY_INTERVAL_MS, SchedulerLoopService } from './scheduler-loop.service';

const POLL_MS = 2000;
const BATCH = 500;

/** The loop's pacing alone: the cycle reports how much it dispatched, the clock is jest's. */
describe('SchedulerLoopService pacing', () => {
  let dispatchedPerCycle: number[];
  let cycles: number;
  let loop: SchedulerLoopService;

  const start = (pollIntervalMs: number) => {
    const cycle = {
      runCycle: async (): Promise<CycleReport> => ({ dispatch: dispatchedPerCycle[cycles++] ?? 0 }),
    };
    const election = { poll: async () => true, isLeader: true };
    const config = { scheduler: { pollIntervalMs, batchSize: BATCH } };
    loop = new SchedulerLoopService(
      new SchedulerRegistry(),
      election as unknown as LeaderElectionService,
      cycle as unknown as SchedulerCycleService,
      config as unknown as AppConfig,
      { enabled: true },
    );
    loop.onApplicationBootstrap();
  };

  beforeEach(() => {
    jest.useFakeTimers();
    cycles = 0;
  });
  afterEach(async () => {
    await loop.onModuleDestroy();
    jest.useRealTimers();
  });

  it('runs the next cycle after the busy interval while dispatch fills whole batches, then the poll interval', async () => {
    dispatchedPerCycle = [BATCH * 10, BATCH, BATCH - 1, 0];
    start(POLL_MS);
    await jest.advanceTimersByTimeAsync(0);
    expect(cycles).toBe(1);

    await jest.advanceTimersByTimeAsync(BUSY_INTERVAL_MS);
    expect(cycles).toBe(2); // the first cycle dispatched ten batches
    await jest.advanceTimersByTimeAsync(BUSY_INTERVAL_MS);
    expect(cycles).toBe(3); // the second one a whole batch

    // The third left its batch short: the backlog is gone, back to the poll interval.
    await jest.advanceTimersByTimeAsync(POLL_MS - 1);
    expect(cycles).toBe(3);
    await jest.advanceTimersByTimeAsync(1);
    expect(cycles).toBe(4);
    await jest.advanceTimersByTimeAsync(POLL_MS);
    expect(cycles).toBe(5);
  });

  it('never waits longer than the poll interval when that is the shorter one', async () => {
    dispatchedPerCycle = [BATCH, BATCH];
    start(100);
    await jest.advanceTimersByTimeAsync(0);
    await jest.advanceTimersByTimeAsync(100);
    expect(cycles).toBe(2);
  });
});
