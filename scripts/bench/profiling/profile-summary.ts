import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** Sampled wall time of the window, ms, and the share of it not idle. */
  totalMs: number;
  busyShare: number;
  /** Self time by package (or `(own code)`, `(gc)`, `(program)`), share of busy time. */
  byPackage: [name: string, share: number][];
  /** The hottest functions by self time. */
  topFunctions: [name: string, share: number][];
}

/** Which package a frame belongs to: node_modules/<pkg>, our dist/, node internals, or V8 itself. */
function packageOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) return mod[1];
  if (url.includes('/dist/')) return '(own code)';
  return '(node internals)';
}

/** Self time per function and per package, from a V8 .cpuprofile (idle excluded). */
export function summarizeProfile(file: string, top = 12): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) =>
    selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000),
  );
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  let busy = 0;
  const packages = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    busy += ms;
    const pkg = packageOf(frame);
    packages.set(pkg, (packages.get(pkg) ?? 0) + ms);
    const where = frame.url
      ? `${frame.url.replace(/^.*\/(node_modules|dist)\//, '')}:${frame.lineNumber + 1}`
      : '';
    const name = `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
  }
  const ranked = (m: Map<string, number>) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]): [string, number] => [k, busy ? v / busy : 0]);
  return {
    file,
    totalMs,
    busyShare: totalMs ? busy / totalMs : 0,
    byPackage: ranked(packages).slice(0, top),
    topFunctions: ranked(functions).slice(0, top),
  };
}
