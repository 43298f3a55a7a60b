import {
  fxRatePersistedSchema,
  InvalidMessageError,
  marketPricePersistedSchema,
  parseMessage,
  valuationRequiredSchema,
} from './contracts';

const parse = (schema: Parameters<typeof parseMessage>[0], value: unknown) =>
  parseMessage(schema, Buffer.from(JSON.stringify(value)));
const job = { portfolio_id: 'P1', security_id: 'S1', valuation_date: '2024-01-05', epoch: 0 };
const price = { security_id: 'S1', price_date: '2024-01-05', price: '120.5', currency: 'USD' };
const rate = { from_currency: 'EUR', to_currency: 'USD', rate_date: '2024-01-05', rate: '1.1' };

/** Values that pass a naive schema but that PostgreSQL refuses (or silently changes) are refused here. */
describe('storable values on every input topic', () => {
  it.each([
    [
      'year 0',
      valuationRequiredSchema,
      { ...job, valuation_date: '0000-01-01' },
      'valuation_date: must be on or after 0001-01-01',
    ],
    [
      'NUL in a portfolio id',
      valuationRequiredSchema,
      { ...job, portfolio_id: 'P\u00001' },
      'portfolio_id: must not contain control characters or NUL',
    ],
    [
      'NUL in a correlation id',
      valuationRequiredSchema,
      { ...job, correlation_id: 'c\u0000' },
      'correlation_id: must not contain',
    ],
    [
      'a newline in a security id',
      valuationRequiredSchema,
      { ...job, security_id: 'S\n1' },
      'security_id: must not contain',
    ],
    [
      'a C1 control',
      valuationRequiredSchema,
      { ...job, security_id: 'S\u00851' },
      'security_id: must not contain',
    ],
    [
      'an unpaired surrogate',
      valuationRequiredSchema,
      { ...job, portfolio_id: 'P\ud8001' },
      'portfolio_id: must not contain',
    ],
    [
      'an over-long id',
      valuationRequiredSchema,
      { ...job, portfolio_id: 'P'.repeat(201) },
      'portfolio_id: is too long',
    ],
    [
      'an over-long correlation id',
      valuationRequiredSchema,
      { ...job, correlation_id: 'c'.repeat(201) },
      'correlation_id: is too long',
    ],
    ['a job id beyond bigint', valuationRequiredSchema, { ...job, job_id: '9'.repeat(19) }, 'job_id'],
    [
      'a price date in year 0',
      marketPricePersistedSchema,
      { ...price, price_date: '0000-12-31' },
      'price_date: must be on or after',
    ],
    ['a price of 1e400', marketPricePersistedSchema, { ...price, price: '1e400' }, 'price: is too large'],
    [
      'a price beyond NUMERIC(28,10)',
      marketPricePersistedSchema,
      { ...price, price: '1000000000000000000' },
      'price: is too large',
    ],
    [
      'a price that rounds to 1e18 when stored',
      marketPricePersistedSchema,
      { ...price, price: '999999999999999999.99999999995' },
      'price: is too large',
    ],
    [
      'a price that rounds to zero',
      marketPricePersistedSchema,
      { ...price, price: '1e-11' },
      'price: rounds to zero',
    ],
    [
      'NUL in a security id',
      marketPricePersistedSchema,
      { ...price, security_id: '\u0000' },
      'security_id: must not contain',
    ],
    [
      'a rate date in year 0',
      fxRatePersistedSchema,
      { ...rate, rate_date: '0000-01-01' },
      'rate_date: must be on or after',
    ],
    ['a rate of 1e300', fxRatePersistedSchema, { ...rate, rate: 1e300 }, 'rate: is too large'],
    ['a zero rate', fxRatePersistedSchema, { ...rate, rate: '0' }, 'rate: must be positive'],
  ])('refuses %s', (_what, schema, value, reason) => {
    expect(() => parse(schema, value)).toThrow(InvalidMessageError);
    expect(() => parse(schema, value)).toThrow(reason);
  });

  it('accepts the edges that the columns hold', () => {
    expect(parse(valuationRequiredSchema, { ...job, valuation_date: '0001-01-01' })).toMatchObject({
      valuation_date: '0001-01-01',
    });
    expect(
      parse(valuationRequiredSchema, { ...job, portfolio_id: 'P'.repeat(200), security_id: 'Zürich 🏦' }),
    ).toMatchObject({ security_id: 'Zürich 🏦' });
    expect(parse(valuationRequiredSchema, { ...job, job_id: '9'.repeat(18) })).toMatchObject({
      job_id: '9'.repeat(18),
    });
    expect(
      parse(marketPricePersistedSchema, { ...price, price: '999999999999999999.9999999999' }),
    ).toMatchObject({ price: '999999999999999999.9999999999' });
    expect(
      parse(fxRatePersistedSchema, { ...rate, rate: '0.0000000001', rate_date: '9999-12-31' }),
    ).toMatchObject({
      rate: '0.0000000001',
    });
  });
});
