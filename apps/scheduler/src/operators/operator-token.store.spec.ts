import { loadConfig } from '@app/config';
import { OperatorTokenStore } from './operator-token.store';

// The module object itself (an `import * as` is a copy), so the spy sees the store's calls.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const crypto = require('node:crypto') as typeof import('node:crypto');

const token = (c: string) => c.repeat(40);

function store(operatorTokens: string): OperatorTokenStore {
  return new OperatorTokenStore(loadConfig('scheduler', { OPERATOR_TOKENS: operatorTokens }));
}

describe('OperatorTokenStore', () => {
  afterEach(() => jest.restoreAllMocks());

  const tokens = store(`alice:operator:${token('a')},bob:viewer:${token('b')},carol:viewer:${token('c')}`);

  it.each([
    [token('a'), 'alice', 'operator'],
    [token('b'), 'bob', 'viewer'],
    [token('c'), 'carol', 'viewer'],
  ])('knows %s', (presented, name, role) => {
    expect(tokens.authenticate(presented)).toMatchObject({ name, role });
  });

  it.each([
    ['no token', undefined],
    ['an empty token', ''],
    ['an unknown token', token('d')],
    ['a prefix of a token', token('a').slice(0, 39)],
    ['a token and more', `${token('a')}x`],
    ['another case', token('A')],
  ])('refuses %s', (_, presented) => {
    expect(tokens.authenticate(presented)).toBeNull();
  });

  it('compares digests in constant time, with every configured token, whichever matches', () => {
    const compare = jest.spyOn(crypto, 'timingSafeEqual');
    for (const presented of [token('a'), token('c'), token('z'), 'short']) {
      compare.mockClear();
      tokens.authenticate(presented);
      // One comparison per configured token (no early exit), always of two 32-byte SHA-256 digests.
      expect(compare).toHaveBeenCalledTimes(3);
      for (const [x, y] of compare.mock.calls) {
        expect([(x as Buffer).length, (y as Buffer).length]).toEqual([32, 32]);
        expect(x).toEqual(crypto.createHash('sha256').update(presented).digest());
      }
    }
  });

  it('knows nobody when none is configured', () => {
    const none = store('');
    expect(none.size).toBe(0);
    expect(none.authenticate(token('a'))).toBeNull();
  });
});
