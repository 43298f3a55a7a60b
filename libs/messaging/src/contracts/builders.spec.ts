import {
  buildDeadLetter,
  buildFxRatePersisted,
  buildMarketPricePersisted,
  buildSnapshotPersisted,
  buildValuationRequired,
  parseDeadLetter,
  parseFxRatePersisted,
  parseMarketPricePersisted,
  parseSnapshotPersisted,
  parseValuationRequired,
  type DeadLetter,
  type SnapshotPersistedMessage,
  type ValuationRequiredMessage,
} from '.';

const bytes = (value: string) => Buffer.from(value, 'utf8');

const claimed: ValuationRequiredMessage = {
  portfolio_id: 'P1',
  security_id: 'Zürich 🏦',
  valuation_date: '2024-02-29',
  epoch: 3,
  correlation_id: 'c-1',
  job_id: '42',
  claim_token: '7d5f7c0e-2c4b-4d3e-9b8a-1a2b3c4d5e6f',
};
const snapshot: SnapshotPersistedMessage = {
  id: 123456789,
  portfolio_id: 'P1',
  security_id: 'S1',
  date: '2024-01-05',
  epoch: 0,
  valuation_status: 'VALUED_STALE',
};
const letter: DeadLetter = {
  topic: 'valuation_required',
  partition: 2,
  offset: '17',
  key: 'P1',
  value: '{"portfolio_id":',
  error: 'value is not JSON',
  failed_at: '2024-01-05T10:11:12.345Z',
};

/** Every builder's output parses back, through its topic's parser, to the value it was given. */
describe('builders round-trip through the parsers', () => {
  it.each<[string, ValuationRequiredMessage]>([
    ['with the dispatch claim', claimed],
    ['without it', { portfolio_id: 'P1', security_id: 'S1', valuation_date: '2024-01-05', epoch: 0 }],
    ['with a null correlation id', { ...claimed, correlation_id: null }],
  ])('valuation_required %s, keyed by portfolio', (_what, message) => {
    const out = buildValuationRequired(message);
    expect(out.key).toBe('P1');
    expect(parseValuationRequired(bytes(out.value))).toEqual(message);
  });

  it('market_price_persisted, keyed by security', () => {
    const price = { security_id: 'S1', price_date: '2024-01-05', price: '120.50', currency: 'USD' };
    const out = buildMarketPricePersisted(price);
    expect(out.key).toBe('S1');
    expect(parseMarketPricePersisted(bytes(out.value))).toEqual(price);
  });

  it('fx_rate_persisted, keyed by the pair FROM/TO', () => {
    const rate = { from_currency: 'EUR', to_currency: 'USD', rate_date: '2024-01-05', rate: '1.0842' };
    const out = buildFxRatePersisted(rate);
    expect(out.key).toBe('EUR/USD');
    expect(parseFxRatePersisted(bytes(out.value))).toEqual(rate);
  });

  it('daily_position_snapshot_persisted, keyed by portfolio', () => {
    const out = buildSnapshotPersisted(snapshot);
    expect(out.key).toBe('P1');
    expect(parseSnapshotPersisted(bytes(out.value))).toEqual(snapshot);
  });

  it.each<[string, DeadLetter]>([
    ['of a keyed message', letter],
    ['of a tombstone without a key', { ...letter, key: null, value: null, error: 'message has no value' }],
  ])('the dead letter %s, keyed by the original key', (_what, dead) => {
    const out = buildDeadLetter(dead);
    expect(out.key).toBe(dead.key);
    expect(parseDeadLetter(bytes(out.value))).toEqual(dead);
  });
});

describe('the payloads of contract §6', () => {
  it('valuation_required: the job key, then the claim; an absent field is left out', () => {
    expect(JSON.parse(buildValuationRequired(claimed).value)).toEqual(claimed);
    const { value } = buildValuationRequired({ ...claimed, job_id: undefined, claim_token: undefined });
    expect(Object.keys(JSON.parse(value))).toEqual([
      'portfolio_id',
      'security_id',
      'valuation_date',
      'epoch',
      'correlation_id',
    ]);
  });

  it('the snapshot event: exactly {id, portfolio_id, security_id, date, epoch, valuation_status}', () => {
    expect(buildSnapshotPersisted(snapshot).value).toBe(
      '{"id":123456789,"portfolio_id":"P1","security_id":"S1","date":"2024-01-05","epoch":0,' +
        '"valuation_status":"VALUED_STALE"}',
    );
  });

  it('the snapshot event carries only its own fields, whatever else the builder is given', () => {
    const row = { ...snapshot, quantity: '100.0000000000' } as SnapshotPersistedMessage;
    expect(Object.keys(JSON.parse(buildSnapshotPersisted(row).value))).toEqual([
      'id',
      'portfolio_id',
      'security_id',
      'date',
      'epoch',
      'valuation_status',
    ]);
  });

  it('the dead letter: original topic, partition, offset, key, value, error, failed_at', () => {
    expect(Object.keys(JSON.parse(buildDeadLetter(letter).value))).toEqual([
      'topic',
      'partition',
      'offset',
      'key',
      'value',
      'error',
      'failed_at',
    ]);
  });
});

describe('parseSnapshotPersisted', () => {
  it.each([
    [{ ...snapshot, id: '1' }, 'id: '],
    [{ ...snapshot, id: 0 }, 'id: must be positive'],
    [{ ...snapshot, date: '2024-02-30' }, 'date: must be a real calendar date'],
    [{ ...snapshot, valuation_status: 'VALUED' }, 'valuation_status: '],
    [{ ...snapshot, portfolio_id: '' }, 'portfolio_id: must not be empty'],
  ])('refuses %j naming the field', (value, reason) => {
    expect(() => parseSnapshotPersisted(bytes(JSON.stringify(value)))).toThrow(reason);
  });
});
