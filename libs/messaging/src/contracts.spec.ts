import {
  fxRatePersistedSchema,
  InvalidMessageError,
  marketPricePersistedSchema,
  parseMessage,
  valuationRequiredSchema,
} from './contracts';

const parse = <T extends Parameters<typeof parseMessage>[0]>(schema: T, value: unknown) =>
  parseMessage(schema, Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)));
const job = { portfolio_id: 'P1', security_id: 'S1', valuation_date: '2024-01-05', epoch: 0 };

describe('message contracts', () => {
  it('accepts a valuation request with or without the dispatch claim', () => {
    expect(parse(valuationRequiredSchema, job)).toEqual(job);
    const claimed = {
      ...job,
      correlation_id: 'c',
      job_id: '42',
      claim_token: '7d5f7c0e-2c4b-4d3e-9b8a-1a2b3c4d5e6f',
    };
    expect(parse(valuationRequiredSchema, claimed)).toEqual(claimed);
    expect(parse(valuationRequiredSchema, { ...job, epoch: '3' })).toEqual({ ...job, epoch: 3 });
  });

  it.each([
    [null, 'message has no value'],
    ['{"portfolio_id":', 'value is not JSON'],
    [{ ...job, valuation_date: '2024-02-30' }, 'valuation_date: must be a real calendar date'],
    [{ ...job, valuation_date: '05/01/2024' }, 'valuation_date: must be a date YYYY-MM-DD'],
    [{ ...job, epoch: -1 }, 'epoch: must not be negative'],
    [{ ...job, epoch: 1.5 }, 'epoch: must be a whole number'],
    [{ ...job, portfolio_id: '' }, 'portfolio_id: must not be empty'],
    [{ ...job, claim_token: 'nope' }, 'claim_token: must be a UUID'],
  ])('rejects %j with a reason naming the field', (value, reason) => {
    const call = () =>
      value === null ? parseMessage(valuationRequiredSchema, null) : parse(valuationRequiredSchema, value);
    expect(call).toThrow(InvalidMessageError);
    expect(call).toThrow(reason);
  });

  it('accepts prices as decimal strings or numbers and rejects malformed ones', () => {
    const price = { security_id: 'S1', price_date: '2024-01-05', price: '120.50', currency: 'USD' };
    expect(parse(marketPricePersistedSchema, price).price).toBe('120.50');
    expect(parse(marketPricePersistedSchema, { ...price, price: 99.5 }).price).toBe('99.5');
    expect(() => parse(marketPricePersistedSchema, { ...price, price: 'ten' })).toThrow(
      'price: must be a decimal number',
    );
    expect(() => parse(marketPricePersistedSchema, { ...price, currency: 'usd' })).toThrow(
      'currency: must be three upper-case letters',
    );
    const rate = { from_currency: 'EUR', to_currency: 'USD', rate_date: '2024-01-05', rate: '1.1' };
    expect(parse(fxRatePersistedSchema, rate)).toEqual(rate);
    expect(() => parse(fxRatePersistedSchema, { ...rate, to_currency: 'US' })).toThrow('to_currency');
  });
});
