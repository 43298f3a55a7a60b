import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../../scripts/lib/managed-process';

/** Every scenario's figures also go to this file, so a CI log that lost them can still be read. */
export const FIGURES_FILE = join(REPO_ROOT, '.run', 'faults', 'figures.txt');

/**
 * Prints a scenario's figures as an aligned block. Written straight to stdout (not console.log), so
 * jest shows them as they are, without a stack line under each.
 */
export function printFigures(title: string, figures: Record<string, string | number>): void {
  const width = Math.max(...Object.keys(figures).map((k) => k.length), 10);
  const lines = [
    '',
    `── ${title} ──`,
    ...Object.entries(figures).map(([k, v]) => `   ${k.padEnd(width)}  ${v}`),
    '',
  ];
  const text = lines.join('\n') + '\n';
  process.stdout.write(text);
  mkdirSync(join(REPO_ROOT, '.run', 'faults'), { recursive: true });
  appendFileSync(FIGURES_FILE, `${new Date().toISOString()}${text}`);
}
