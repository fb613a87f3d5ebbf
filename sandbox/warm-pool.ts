// Containers made ahead of need, so a task or a session takes one instead of waiting for Docker to create
// and start it: the one create-and-refill loop of the python pools (the base runtime's and each account
// template's, python-pool.ts) and of the terminal sessions' warm containers (session-containers.ts).

export interface WarmPoolOptions<T> {
  /** How many idle ones to keep ready (0: none made ahead; the owner may still give some back). */
  warm: number;
  /** Makes one, started and ready to serve. */
  create: () => Promise<T>;
  /** Ends one that is not wanted (made after the pool closed, or at the close). */
  discard: (item: T) => Promise<void>;
  /** A warm-up that failed: said in the log, and tried again at the next refill. */
  onError: (e: unknown) => void;
}

export class WarmPool<T> {
  private readonly ready: T[] = [];
  private starting = 0;
  private closing = false;

  constructor(private readonly o: WarmPoolOptions<T>) {}

  /** Starts as many as bring the idle and the starting up to `warm`; called at start and after every take. */
  refill(): void {
    while (!this.closing && this.ready.length + this.starting < this.o.warm) {
      this.starting++;
      this.o.create()
        .then((item) => (this.closing ? this.o.discard(item) : void this.ready.push(item)))
        .catch(this.o.onError)
        .finally(() => { this.starting--; });
    }
  }

  /** An idle one, the oldest first, if there is one. */
  take(): T | undefined {
    return this.ready.shift();
  }

  /** Gives back one that can serve again, if the pool is open and holds fewer than `most` idle ones. */
  giveBack(item: T, most = Infinity): boolean {
    if (this.closing || this.ready.length >= most) return false;
    this.ready.push(item);
    return true;
  }

  /** The idle ones now. */
  get idle(): readonly T[] { return this.ready; }

  get closed(): boolean { return this.closing; }

  /** No more are made or given back; the idle ones are discarded. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.ready.splice(0).map((item) => this.o.discard(item)));
  }
}
