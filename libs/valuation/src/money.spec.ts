import {
  Dec,
  fitsStoredAmount,
  formatAmount,
  InvalidAmountError,
  parseAmount,
  roundForStorage,
} from './money';

describe('parseAmount', () => {
  it.each<[string | number, string]>([
    ['120.5', '120.5'],
    ['120.0000000000', '120'],
    ['-3.25', '-3.25'],
    ['+7', '7'],
    ['.5', '0.5'],
    ['5.', '5'],
    ['1e3', '1000'],
    ['1.5E-3', '0.0015'],
    ['0', '0'],
    [42, '42'],
    [0.1, '0.1'],
    [-2.5, '-2.5'],
    [1e21, '1000000000000000000000'],
    ['123456789012345678.1234567891', '123456789012345678.1234567891'],
  ])('parses %p as %s', (input, expected) => {
    expect(parseAmount(input).toFixed()).toBe(expected);
  });

  it.each<[string | number]>([
    [''],
    [' 1'],
    ['1 '],
    ['abc'],
    ['1,5'],
    ['1.2.3'],
    ['0x1f'],
    ['0b101'],
    ['Infinity'],
    ['-Infinity'],
    ['NaN'],
    ['1e'],
    ['e5'],
    ['1e99999999999999999'],
    ['1e-99999999999999999'],
    [Number.NaN],
    [Number.POSITIVE_INFINITY],
    [Number.NEGATIVE_INFINITY],
  ])('rejects %p', (input) => {
    expect(() => parseAmount(input)).toThrow(InvalidAmountError);
  });

  it('keeps more than double precision', () => {
    expect(parseAmount('0.1').plus(parseAmount('0.2')).equals(parseAmount('0.3'))).toBe(true);
  });
});

describe('formatAmount', () => {
  it.each<[string, string]>([
    ['12000', '12000.0000000000'],
    ['-1025', '-1025.0000000000'],
    ['0.00000000005', '0.0000000000'],
    ['0.00000000015', '0.0000000002'],
    ['0.00000000025', '0.0000000002'],
    ['0.000000000250001', '0.0000000003'],
    ['-0.00000000015', '-0.0000000002'],
    ['-0.00000000005', '0.0000000000'],
    ['-0', '0.0000000000'],
    ['1.23456789012345', '1.2345678901'],
  ])('formats %s as %s (half-even, 10 places)', (input, expected) => {
    expect(formatAmount(new Dec(input))).toBe(expected);
  });

  it('refuses non-finite values rather than storing Infinity', () => {
    expect(() => formatAmount(new Dec(1).dividedBy(0))).toThrow(InvalidAmountError);
    expect(() => formatAmount(new Dec(Number.NaN))).toThrow(InvalidAmountError);
  });
});

describe('roundForStorage', () => {
  it.each<[string, string]>([
    ['1.23456789015', '1.2345678902'],
    ['1.23456789025', '1.2345678902'],
    ['0.00000000005', '0'],
    ['0.000000000051', '0.0000000001'],
  ])('rounds %s to %s (half-even, 10 places), the value formatAmount writes', (input, expected) => {
    expect(roundForStorage(new Dec(input)).toFixed()).toBe(expected);
  });
});

describe('fitsStoredAmount', () => {
  it.each<[string, boolean]>([
    ['0', true],
    ['999999999999999999.9999999999', true],
    ['-999999999999999999.9999999999', true],
    ['999999999999999999.99999999995', false],
    ['1000000000000000000', false],
    ['-1e18', false],
  ])('%s fits NUMERIC(28,10): %p', (input, expected) => {
    expect(fitsStoredAmount(new Dec(input))).toBe(expected);
  });
});
