// At most `limit` calls at once per key; the rest wait their turn in arrival order. Temporal refuses a
// workflow more than a fixed number of in-flight Updates (history.maxInFlightUpdates, 10 by default)
// with RESOURCE_EXHAUSTED, so a burst of calls on one session is queued here instead of failing.

export class KeyedGate {
  private readonly lanes = new Map<string, { running: number; waiting: Array<() => void> }>();

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new Error(`KeyedGate limit must be at least 1, got ${limit}`);
  }

  async run<T>(key: string, call: () => Promise<T>): Promise<T> {
    let lane = this.lanes.get(key);
    if (!lane) this.lanes.set(key, (lane = { running: 0, waiting: [] }));
    if (lane.running >= this.limit) await new Promise<void>((resolve) => lane.waiting.push(resolve));
    else lane.running += 1;
    try {
      return await call();
    } finally {
      const next = lane.waiting.shift();
      if (next) next(); // the slot passes straight to the next caller
      else if (--lane.running === 0) this.lanes.delete(key);
    }
  }

  /** Keys with calls running or waiting (for tests and metrics). */
  get size(): number {
    return this.lanes.size;
  }
}
