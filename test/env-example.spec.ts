import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ENV_DEFAULTS } from '@app/config';

describe('.env.example', () => {
  it('lists every configuration variable with its default, and nothing else', () => {
    const text = readFileSync(join(__dirname, '..', '.env.example'), 'utf8');
    const listed = Object.fromEntries(
      text
        .split('\n')
        .filter((line) => /^[A-Z_]+=/.test(line))
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(listed).toEqual({ ...ENV_DEFAULTS });
  });
});
