import { type BenchContext, fmt } from './bench-context';
import { heading, say } from '../lib/terminal';
import { mdCode, mdTable, type ScenarioResult } from './results';
import { type DrainResult, drainWithFloor, type FloorPair, median } from './scenario-drain';

export const FLOOR_TARGET_SHARE = 0.2;

/**
 * Scenario 2: the same valuations by one set-based statement over the same rows, right after the
 * two-calculator drain (taken from the drain scenario of this run, or drained here when it did not run).
 */
export async function floorScenario(
  ctx: BenchContext,
  drain: DrainResult | undefined,
): Promise<ScenarioResult> {
  let pairs: FloorPair[] = drain?.floors ?? [];
  if (pairs.length === 0) {
    const { run, floor } = await drainWithFloor(ctx, 'drain-2c', 2, true);
    if (floor) pairs = [{ run, floor }];
  }
  if (pairs.length === 0) throw new Error('the floor was not measured');
  heading('floor: one INSERT … SELECT over the same jobs');
  // Each ratio is taken in one run (the drain and the floor on the same rows); the median is reported.
  const shares = pairs.map((p) => p.run.jobsPerSecond / p.floor.rowsPerSecond);
  const share = median(shares);
  const floorRate = median(pairs.map((p) => p.floor.rowsPerSecond));
  const { floor } = pairs[0];
  say(
    `  ${fmt(floor.rows)} rows at a median ${fmt(floorRate)} rows/s; the two-calculator drain ran at ` +
      `${fmt(share * 100, 1)} % of it (${shares.map((s) => `${fmt(s * 100, 1)} %`).join(', ')})`,
  );
  say(
    `  market values agree with the pipeline's snapshots on ${fmt(floor.compared - floor.mismatches)}/${fmt(floor.compared)} rows`,
  );
  return {
    name: 'floor',
    title: 'Floor: the same valuations in one set-based statement',
    summary: [
      ['SQL floor', `${fmt(floorRate)} rows/s (${fmt(floor.rows)} rows)`],
      ['drain / floor', `${fmt(share * 100, 1)} %`],
    ],
    targets: [
      {
        target: `drain with two calculators ≥ ${FLOOR_TARGET_SHARE * 100} % of the SQL floor's rate`,
        measured: `${fmt(share * 100, 1)} % (${fmt(median(pairs.map((p) => p.run.jobsPerSecond)))} of ${fmt(floorRate)} /s)`,
        met: share >= FLOOR_TARGET_SHARE,
      },
    ],
    data: {
      pairs: pairs.map((p) => ({ drain: p.run.name, drainJobsPerSecond: p.run.jobsPerSecond, ...p.floor })),
      share,
    },
    markdown: [
      mdTable(
        [
          'drain run',
          'rows',
          'floor seconds (median of 3)',
          'repeats (s)',
          'floor rows/s',
          'drain jobs/s',
          'drain / floor',
        ],
        pairs.map((p) => [
          p.run.name,
          fmt(p.floor.rows),
          fmt(p.floor.seconds, 3),
          p.floor.repeats.map((t) => fmt(t, 3)).join(', '),
          fmt(p.floor.rowsPerSecond),
          fmt(p.run.jobsPerSecond),
          `${fmt((p.run.jobsPerSecond / p.floor.rowsPerSecond) * 100, 1)} %`,
        ]),
      ),
      '',
      `The floor's market values equal the pipeline's snapshots on ${fmt(floor.compared - floor.mismatches)} of ` +
        `${fmt(floor.compared)} valued rows (largest difference ${floor.maxAbsDifference}).`,
      '',
      '<details><summary>EXPLAIN (ANALYZE, BUFFERS) of the floor statement</summary>',
      '',
      mdCode(floor.plan),
      '',
      '</details>',
    ].join('\n'),
  };
}
