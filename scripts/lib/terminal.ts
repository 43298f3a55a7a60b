/** Terminal output for the demo and the benchmark: a live line on a TTY, plain lines elsewhere. */
const tty = process.stdout.isTTY === true;
const color = (code: number) => (text: string) => (tty ? `\u001b[${code}m${text}\u001b[0m` : text);
export const bold = color(1);
export const dim = color(2);
export const green = color(32);
export const yellow = color(33);
export const red = color(31);
export const cyan = color(36);

let live = false;
let lastPlain = 0;

/** Rewrites one status line in place on a TTY; elsewhere prints it at most every two seconds. */
export function liveLine(text: string): void {
  if (tty) {
    process.stdout.write(`\r\u001b[2K${text}`);
    live = true;
  } else if (Date.now() - lastPlain > 2000) {
    process.stdout.write(`${text}\n`);
    lastPlain = Date.now();
  }
}

export function say(text = ''): void {
  if (live) process.stdout.write('\n');
  live = false;
  process.stdout.write(`${text}\n`);
}

export function heading(text: string): void {
  say();
  say(bold(cyan(`▸ ${text}`)));
}

/** Left-aligned text columns, right-aligned numbers. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const numeric = header.map(
    (_, i) => rows.length > 0 && rows.every((r) => /^-?[\d,.]+%?$/.test(String(r[i]))),
  );
  const line = (r: string[]) =>
    r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [bold(line(header)), ...cells.slice(1).map(line)].map((l) => `  ${l}`).join('\n');
}

export function bar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}
