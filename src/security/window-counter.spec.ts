import { WindowCounter } from './window-counter.js';

describe('WindowCounter', () => {
  it('counts hits per key within a fixed window and starts again in the next one', () => {
    const counter = new WindowCounter(1000);
    expect(counter.hit('stripe', 0)).toBe(1);
    expect(counter.hit('stripe', 500)).toBe(2);
    expect(counter.hit('paypal', 600)).toBe(1);
    expect(counter.count('stripe', 999)).toBe(2);
    expect(counter.hit('stripe', 1000)).toBe(1);
    expect(counter.count('paypal', 1000)).toBe(0);
  });

  it('agrees with other processes on window boundaries (the index is the Redis key suffix)', () => {
    const counter = new WindowCounter(300_000);
    expect(counter.windowIndex(0)).toBe(0);
    expect(counter.windowIndex(299_999)).toBe(0);
    expect(counter.windowIndex(300_000)).toBe(1);
  });

  it('stays bounded under a flood of distinct keys', () => {
    const counter = new WindowCounter(1000, 10);
    for (let i = 0; i < 1000; i += 1) counter.hit(`key-${i}`, 5);
    expect(counter.count('key-999', 5)).toBe(1);
    expect(counter.count('key-0', 5)).toBe(0);
  });

  it('refuses a window that is not positive', () => {
    expect(() => new WindowCounter(0)).toThrow(RangeError);
  });
});
