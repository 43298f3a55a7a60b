import { fxPairKey, isCurrencyCode, isIsoDate, isoDateFault } from './reference-data';

describe('isCurrencyCode', () => {
  it.each<[unknown, boolean]>([
    ['USD', true],
    ['CHF', true],
    ['usd', false],
    ['Usd', false],
    ['US', false],
    ['USDX', false],
    ['US1', false],
    ['ÜSD', false],
    ['USD\n', false],
    [' USD', false],
    ['', false],
    [null, false],
    [840, false],
  ])('%p → %p', (input, expected) => {
    expect(isCurrencyCode(input)).toBe(expected);
  });
});

describe('isIsoDate', () => {
  it.each<[unknown, boolean]>([
    ['2024-01-05', true],
    ['2024-02-29', true],
    ['2000-02-29', true],
    ['2023-02-29', false],
    ['1900-02-29', false],
    ['2024-02-30', false],
    ['2024-04-31', false],
    ['2024-12-31', true],
    ['2024-13-01', false],
    ['2024-00-10', false],
    ['2024-01-00', false],
    ['0000-01-01', false],
    ['0001-01-01', true],
    ['2024-1-05', false],
    ['2024-01-05T00:00:00Z', false],
    ['20240105', false],
    ['', false],
    [null, false],
    [20240105, false],
  ])('%p → %p', (input, expected) => {
    expect(isIsoDate(input)).toBe(expected);
  });
});

describe('isoDateFault', () => {
  it.each<[string, string | null]>([
    ['2024-02-29', null],
    ['0001-01-01', null],
    ['9999-12-31', null],
    ['05/01/2024', 'must be a date YYYY-MM-DD'],
    ['10000-01-01', 'must be a date YYYY-MM-DD'],
    ['+2024-01-05', 'must be a date YYYY-MM-DD'],
    ['2024-01-05\u0000', 'must be a date YYYY-MM-DD'],
    ['2024-02-30', 'must be a real calendar date'],
    ['2023-02-29', 'must be a real calendar date'],
    ['2024-13-01', 'must be a real calendar date'],
    ['0000-01-01', 'must be on or after 0001-01-01'],
    ['0000-12-31', 'must be on or after 0001-01-01'],
  ])('%p → %p', (input, expected) => {
    expect(isoDateFault(input)).toBe(expected);
  });
});

describe('type narrowing', () => {
  it('narrows unknown input to string', () => {
    const input: unknown = 'EUR';
    const code: string = isCurrencyCode(input) ? input : 'none';
    const date: string = isIsoDate(input) ? input : 'none';
    expect([code, date]).toEqual(['EUR', 'none']);
  });
});

describe('fxPairKey', () => {
  it('joins the pair as FROM/TO, the key of fx_rate_persisted', () => {
    expect(fxPairKey('EUR', 'USD')).toBe('EUR/USD');
  });
});
