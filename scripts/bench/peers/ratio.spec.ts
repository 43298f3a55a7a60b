import { pipelineToBestPeer } from './ratio';

describe('pipelineToBestPeer', () => {
  const peers = [
    { name: 'graphile-worker', jobsPerSecond: 1294 },
    { name: 'pg-boss', jobsPerSecond: 1577 },
  ];

  it('divides the pipeline by the fastest peer', () => {
    expect(pipelineToBestPeer(3312, peers)).toBe(
      '2.10× (pipeline, 2 calculators, 3,312 jobs/s ÷ pg-boss, 1,577 jobs/s)',
    );
  });

  it('says the ratio is unavailable without a drain of the same invocation', () => {
    expect(pipelineToBestPeer(undefined, peers)).toMatch(/^unavailable: the drain scenario did not run/);
  });
});
