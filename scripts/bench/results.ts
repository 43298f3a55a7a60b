/** A target from the issue, checked against what a scenario measured. */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean;
}

/** What a scenario hands back: a few headline rows, its targets, its data, and its section of the docs. */
export interface ScenarioResult {
  name: string;
  title: string;
  /** Rows of the summary table printed at the end and written to the docs. */
  summary: [metric: string, value: string][];
  targets: TargetCheck[];
  /** Everything measured, for bench-results.json. */
  data: Record<string, unknown>;
  /** The scenario's section of docs/benchmarks.md (tables, plans), without its heading. */
  markdown: string;
}

/** A markdown table. */
export function mdTable(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export const mdCode = (text: string) => ['```', text.trimEnd(), '```'].join('\n');
