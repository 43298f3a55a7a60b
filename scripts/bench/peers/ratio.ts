/** A peer's throughput, as the ratio needs it. */
export interface PeerRate {
  name: string;
  jobsPerSecond: number;
}

const num = (n: number, digits: number) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/**
 * The pipeline's two-calculator drain median of this invocation ÷ the best peer's jobs/s, or why there
 * is none: a ratio against a drain of another run (another load on the machine) would mean nothing.
 */
export function pipelineToBestPeer(pipelineJobsPerSecond: number | undefined, peers: PeerRate[]): string {
  if (peers.length === 0) return 'unavailable: no peer ran';
  const best = peers.reduce((x, y) => (y.jobsPerSecond > x.jobsPerSecond ? y : x));
  if (pipelineJobsPerSecond === undefined)
    return 'unavailable: the drain scenario did not run before this one in the same invocation';
  return (
    `${num(pipelineJobsPerSecond / best.jobsPerSecond, 2)}× (pipeline, 2 calculators, ` +
    `${num(pipelineJobsPerSecond, 0)} jobs/s ÷ ${best.name}, ${num(best.jobsPerSecond, 0)} jobs/s)`
  );
}
