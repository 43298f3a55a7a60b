import { describeRowVersions, rowVersionsPerJob, type WriteSample, writtenBetween } from './row-versions';

describe('rowVersionsPerJob', () => {
  const before: WriteSample = {
    jobs: { ins: 100, upd: 0, hot: 0, del: 0 },
    snapshots: { ins: 0, upd: 0, hot: 0, del: 0 },
    prices: { ins: 50, upd: 0, hot: 0, del: 0 },
  };
  const after: WriteSample = {
    jobs: { ins: 100, upd: 200, hot: 150, del: 0 },
    snapshots: { ins: 100, upd: 0, hot: 0, del: 0 },
    prices: { ins: 50, upd: 0, hot: 0, del: 0 },
    outbox: { ins: 100, upd: 0, hot: 0, del: 100 },
  };

  it('counts inserts and updates written in the window per job, most written table first', () => {
    const r = rowVersionsPerJob(before, after, 100);
    expect(r.perJob).toBe(4);
    expect(r.hotShare).toBe(0.75);
    expect(Object.keys(r.byTable)).toEqual(['jobs', 'snapshots', 'outbox']);
    expect(r.byTable.jobs).toEqual({ perJob: 2, hotShare: 0.75, delPerJob: 0 });
    expect(r.byTable.outbox).toEqual({ perJob: 1, hotShare: 0, delPerJob: 1 });
  });

  it('leaves out the tables nothing was written to, and describes the rest', () => {
    const r = rowVersionsPerJob(before, after, 100);
    expect(r.byTable.prices).toBeUndefined();
    expect(describeRowVersions(r)).toBe(
      '4.00 per job (HOT 75 %): jobs 2.00 (HOT 75 %) · snapshots 1.00 · outbox 1.00',
    );
  });
});

describe('writtenBetween', () => {
  const a: WriteSample = {
    jobs: { ins: 1, upd: 2, hot: 0, del: 0 },
    lease: { ins: 1, upd: 5, hot: 5, del: 0 },
  };

  it('ignores the tables it is told to, and sees any other change or new table', () => {
    expect(writtenBetween(a, { ...a, lease: { ins: 1, upd: 9, hot: 9, del: 0 } }, ['lease'])).toBe(false);
    expect(writtenBetween(a, { ...a, jobs: { ins: 1, upd: 2, hot: 0, del: 1 } }, ['lease'])).toBe(true);
    expect(writtenBetween(a, { ...a, outbox: { ins: 1, upd: 0, hot: 0, del: 0 } }, ['lease'])).toBe(true);
  });
});
