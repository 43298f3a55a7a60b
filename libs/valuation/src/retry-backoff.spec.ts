import fc from 'fast-check';
import { backoffDelaySeconds, type RetrySettings } from './retry-backoff';

const settings = (
  backoffSeconds: number,
  backoffMultiplier: number,
  backoffMaxSeconds: number,
): RetrySettings => ({
  backoffSeconds,
  backoffMultiplier,
  backoffMaxSeconds,
  maxAttempts: 0,
});
const noJitter = () => 0;
const fullJitter = () => 0.999999;

describe('backoffDelaySeconds', () => {
  it.each<[string, RetrySettings, number[]]>([
    ['defaults: a fixed 10 minutes', settings(600, 1, 21600), [600, 600, 600, 600, 600]],
    ['exponential, capped at the maximum', settings(10, 2, 60), [10, 20, 40, 60, 60]],
    ['a maximum below the base caps the first delay too', settings(600, 1, 300), [300, 300]],
  ])('%s', (_name, s, expected) => {
    expect(expected.map((_, i) => backoffDelaySeconds(i + 1, s, noJitter))).toEqual(expected);
  });

  it.each<[number, number]>([
    [0, 600],
    [0.5, 630],
    [0.999999, 659.99994],
  ])('adds random %p of 10 %% jitter to 600 s: %p', (random, expected) => {
    expect(backoffDelaySeconds(1, settings(600, 1, 21600), () => random)).toBeCloseTo(expected, 6);
  });

  it('adds jitter on top of the cap', () => {
    expect(backoffDelaySeconds(9, settings(10, 2, 60), fullJitter)).toBeCloseTo(66, 3);
  });

  it('clamps a misbehaving random source so a job is never early and at most 10 % late', () => {
    const s = settings(600, 1, 21600);
    expect([-1, 2, Number.NaN].map((r) => backoffDelaySeconds(1, s, () => r))).toEqual([600, 660, 600]);
  });

  it('survives a multiplier overflowing after many failures', () => {
    expect(backoffDelaySeconds(5000, settings(10, 2, 3600), noJitter)).toBe(3600);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses failure count %p', (failures) => {
    expect(() => backoffDelaySeconds(failures, settings(600, 1, 21600))).toThrow(RangeError);
  });

  it('stays within [nominal, nominal × 1.1] for any settings and Math.random', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 86400 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 1, max: 86400 }),
        (failures, base, multiplier, max) => {
          const s = settings(base, multiplier, max);
          const nominal = Math.min(base * multiplier ** (failures - 1), max);
          const delay = backoffDelaySeconds(failures, s);
          return delay >= nominal && delay <= nominal * 1.1;
        },
      ),
    );
  });
});
