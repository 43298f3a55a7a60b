import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_DEFAULTS } from '@app/config';

const read = (file: string) => readFileSync(join(__dirname, '..', file), 'utf8');

/** The configuration reference cannot drift from the schema: both documents are checked against it. */
describe('configuration reference', () => {
  it('.env.example lists every variable with its default, and nothing else', () => {
    const listed = Object.fromEntries(
      read('.env.example')
        .split('\n')
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(listed).toEqual({ ...ENV_DEFAULTS });
  });

  it("the reference's table has a row per variable with its default, and nothing else", () => {
    const rows = Object.fromEntries(
      [...read('docs/reference.md').matchAll(/^\| `([A-Z_]+)` \| (?:`([^`]*)`|\(empty\)) \|/gm)].map((m) => [
        m[1],
        m[2] ?? '',
      ]),
    );
    expect(rows).toEqual({ ...ENV_DEFAULTS });
  });
});
