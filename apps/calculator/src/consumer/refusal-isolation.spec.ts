import { applyIsolatingRefusals } from './refusal-isolation';

/** What PostgreSQL's driver throws: an error carrying the SQLSTATE. */
const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });
const refusal = (error: unknown) => ((error as { code?: string }).code === '22008' ? 'refused' : null);

/** A stand-in for one transaction: refuses the whole call when any item is bad, else applies it. */
function fakeDatabase(bad: Set<number>) {
  const applied: number[] = [];
  const calls: number[][] = [];
  const apply = (items: readonly number[]) => {
    calls.push([...items]);
    if (items.some((i) => bad.has(i))) return Promise.reject(pgError('22008', 'date out of range'));
    applied.push(...items);
    return Promise.resolve(items.map((i) => i * 10));
  };
  return { apply, applied, calls };
}

describe('applyIsolatingRefusals', () => {
  it('applies a clean chunk in one call', async () => {
    const db = fakeDatabase(new Set());
    const out = await applyIsolatingRefusals([1, 2, 3], db.apply, refusal);
    expect(out).toEqual({ results: [10, 20, 30], refused: [] });
    expect(db.calls).toHaveLength(1);
  });

  it.each([
    [[0], 500],
    [[499], 500],
    [[3, 250, 251], 500],
    [[0, 1, 2, 3], 4],
  ])('isolates exactly the refused items %j of %d and applies every other one once', async (badItems, n) => {
    const bad = new Set(badItems);
    const items = Array.from({ length: n }, (_, i) => i);
    const db = fakeDatabase(bad);
    const out = await applyIsolatingRefusals(items, db.apply, refusal);
    expect(out.refused).toEqual(badItems.map((item) => ({ item, reason: 'refused' })));
    expect(db.applied.sort((a, b) => a - b)).toEqual(items.filter((i) => !bad.has(i)));
    expect(out.results.sort((a, b) => a - b)).toEqual(db.applied.map((i) => i * 10));
    // Bisection: about 2·log2(n) calls per refused item, never one per item.
    expect(db.calls.length).toBeLessThanOrEqual(1 + badItems.length * 2 * Math.ceil(Math.log2(n) + 1));
  });

  it('rethrows an infrastructure error at once, without splitting the chunk', async () => {
    const lost = pgError('08006', 'connection failure');
    const apply = jest.fn((_items: readonly number[]) => Promise.reject(lost));
    await expect(applyIsolatingRefusals([1, 2, 3, 4], apply, refusal)).rejects.toBe(lost);
    expect(apply).toHaveBeenCalledTimes(1);
  });

  it('rethrows an infrastructure error met while isolating, so the whole chunk is redelivered', async () => {
    let call = 0;
    const apply = (_items: readonly number[]) => {
      call += 1;
      if (call === 1) return Promise.reject(pgError('22008', 'date out of range'));
      return Promise.reject(pgError('40001', 'could not serialize access'));
    };
    await expect(applyIsolatingRefusals([1, 2], apply, refusal)).rejects.toThrow('could not serialize');
  });
});
