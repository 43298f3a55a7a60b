import { fxWaitKey, priceWaitKey, waitingOnKey } from './waiting-on-key';
import type { WaitingOn } from './valuation.types';

describe('waitingOnKey: the stored form of a wait', () => {
  it.each<[string, WaitingOn | null, string | null]>([
    ['nothing', null, null],
    ['a price: the job’s security', { kind: 'PRICE' }, 'PRICE:SEC1'],
    ['a pair in alphabetical order', { kind: 'FX', from: 'EUR', to: 'USD' }, 'FX:EUR/USD'],
    ['a pair the other way round: the same key', { kind: 'FX', from: 'USD', to: 'EUR' }, 'FX:EUR/USD'],
  ])('%s', (_, waitingOn, key) => {
    expect(waitingOnKey('SEC1', waitingOn)).toBe(key);
  });

  it.each([
    [priceWaitKey('SEC1'), 'PRICE:SEC1'],
    [fxWaitKey('USD', 'CHF'), 'FX:CHF/USD'],
    [fxWaitKey('CHF', 'USD'), 'FX:CHF/USD'],
  ])('the arrivals build the same key: %s', (key, expected) => {
    expect(key).toBe(expected);
  });
});
