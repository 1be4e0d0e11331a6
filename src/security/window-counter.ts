/**
 * Fixed-window counters in memory: `hit(key)` returns how many hits `key` has had in the
 * current window. Old windows are dropped as new ones start, so memory stays bounded by the
 * number of keys seen in one window.
 */
export class WindowCounter {
  private readonly windows = new Map<string, { index: number; hits: number }>();

  constructor(
    readonly windowMs: number,
    private readonly maxKeys = 1000,
  ) {
    if (!(windowMs > 0)) throw new RangeError('windowMs must be positive');
  }

  /** The window a moment falls in (also the Redis key suffix, so processes agree on windows). */
  windowIndex(nowMs: number): number {
    return Math.floor(nowMs / this.windowMs);
  }

  hit(key: string, nowMs: number = Date.now()): number {
    const index = this.windowIndex(nowMs);
    const current = this.windows.get(key);
    if (current && current.index === index) {
      current.hits += 1;
      return current.hits;
    }
    if (!current && this.windows.size >= this.maxKeys) this.prune(index);
    this.windows.set(key, { index, hits: 1 });
    return 1;
  }

  count(key: string, nowMs: number = Date.now()): number {
    const current = this.windows.get(key);
    return current && current.index === this.windowIndex(nowMs) ? current.hits : 0;
  }

  private prune(index: number): void {
    for (const [key, value] of this.windows) if (value.index !== index) this.windows.delete(key);
    // Still full of keys from this window: forget the oldest inserted (a flood of distinct keys).
    while (this.windows.size >= this.maxKeys) this.windows.delete(this.windows.keys().next().value as string);
  }
}
