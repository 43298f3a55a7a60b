import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, tokenDigest } from './index';

const T1 = 'a3f1c0de5b7e4a9d8c6b2f0e1d3c5a7b';
const T2 = 'b4e2d1ef6c8f5bae9d7c3a1f2e4d6b8c';
const T3 = 'c5f3e2f07d9a6cbf0e8d4b2a3f5e7c9d';

/** The failure of `loadConfig`, which must be a ConfigError. */
function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig('scheduler', env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('operator tokens (OPERATOR_TOKENS, OPERATOR_TOKENS_FILE)', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'operator-tokens-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('defaults to nobody', () => {
    expect(loadConfig('scheduler', {}).operators).toEqual([]);
  });

  it('reads comma-separated name:role:token entries and keeps only the digests', () => {
    const config = loadConfig('scheduler', { OPERATOR_TOKENS: ` alice:operator:${T1} , bob:viewer:${T2}` });
    expect(config.operators).toEqual([
      { name: 'alice', role: 'operator', tokenDigest: tokenDigest(T1) },
      { name: 'bob', role: 'viewer', tokenDigest: tokenDigest(T2) },
    ]);
    expect(JSON.stringify(config)).not.toContain(T1);
    expect(JSON.stringify(config)).not.toContain(T2);
  });

  it('reads a file, one entry per line, ignoring comments and blank lines, next to the variable', () => {
    const file = join(dir, 'tokens');
    writeFileSync(
      file,
      `# operators of the valuation pipeline\n\nalice:operator:${T1}\n   # rotated 2026-12-01\r\nbob:viewer:${T2}\n\n`,
    );
    const config = loadConfig('scheduler', {
      OPERATOR_TOKENS_FILE: file,
      OPERATOR_TOKENS: `ci:viewer:${T3}`,
    });
    expect(config.operators.map((p) => `${p.name}:${p.role}`)).toEqual([
      'ci:viewer',
      'alice:operator',
      'bob:viewer',
    ]);
  });

  it.each([
    ['OPERATOR_TOKENS', T1, /entry 1 must be name:role:token/],
    ['OPERATOR_TOKENS', `alice:${T1}`, /entry 1 must be name:role:token/],
    ['OPERATOR_TOKENS', `alice:admin:${T1}`, /entry 1 has a bad role/],
    ['OPERATOR_TOKENS', `alice:operator:${T1},:viewer:${T2}`, /entry 2 has a bad name/],
    ['OPERATOR_TOKENS', `alice:operator:${T1},,bob:viewer:${T2}`, /entry 2 must be name:role:token/],
    ['OPERATOR_TOKENS', `al ice:operator:${T1}`, /entry 1 has a bad name/],
    ['OPERATOR_TOKENS', `alice:operator:${T1.slice(0, 8)}`, /entry 1 has a token shorter than 16/],
    ['OPERATOR_TOKENS', `alice:operator:${T1} ${T2}`, /entry 1 has a bad token/],
    [
      'OPERATOR_TOKENS',
      `alice:operator:${T1},bob:viewer:${T1}`,
      /entry 2 repeats the token of OPERATOR_TOKENS entry 1/,
    ],
  ])('refuses %s=%s with one line naming the variable and never the token', (name, value, reason) => {
    const error = failure({ [name]: value });
    expect(error.variable).toBe(name);
    expect(error.message.startsWith(`Invalid configuration: ${name} `)).toBe(true);
    expect(error.message).toMatch(reason);
    expect(error.message).not.toContain('\n');
    for (const token of [T1, T2, T1.slice(0, 8)]) expect(error.message).not.toContain(token);
  });

  it('refuses a malformed line of the file by its number, never its content', () => {
    const file = join(dir, 'bad');
    writeFileSync(file, `# comment\nalice:operator:${T1}\n${T2}\n`);
    const error = failure({ OPERATOR_TOKENS_FILE: file });
    expect(error.message).toBe('Invalid configuration: OPERATOR_TOKENS_FILE line 3 must be name:role:token');
    writeFileSync(file, `alice:operator:${T1}\n`);
    expect(failure({ OPERATOR_TOKENS_FILE: file, OPERATOR_TOKENS: `bob:viewer:${T1}` }).message).toBe(
      'Invalid configuration: OPERATOR_TOKENS_FILE line 1 repeats the token of OPERATOR_TOKENS entry 1',
    );
  });

  it('refuses an unreadable file', () => {
    const missing = join(dir, 'missing');
    expect(failure({ OPERATOR_TOKENS_FILE: missing }).message).toBe(
      `Invalid configuration: OPERATOR_TOKENS_FILE cannot be read (ENOENT): ${JSON.stringify(missing)}`,
    );
    expect(failure({ OPERATOR_TOKENS_FILE: dir }).message).toMatch(
      /OPERATOR_TOKENS_FILE cannot be read \(EISDIR\)/,
    );
  });
});
