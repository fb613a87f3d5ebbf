// Slows down password guessing on POST /console/login without handing an attacker a way to lock a real
// user out. Blocking (429 with Retry-After) is per client address, and per username *at* that address:
// MAX_FAILURES failed logins within WINDOW_MS. Across addresses a username is only slowed down: past
// MAX_FAILURES failures in the window, each attempt on it waits a doubling delay, at most BACKOFF_MAX_MS,
// so a guesser with many addresses gets a few tries a second at best while the real user still gets in.
// State is a map in this API process: a restart forgets it, and each API process counts on its own.

export const LOGIN_MAX_FAILURES = 10;
export const LOGIN_WINDOW_MS = 5 * 60_000;
export const LOGIN_BACKOFF_BASE_MS = 250;
export const LOGIN_BACKOFF_MAX_MS = 5_000;
/** Keys kept at most; past that the oldest are dropped, so a flood of names cannot grow memory. */
const MAX_KEYS = 10_000;

export class LoginLimiter {
  /** Failure times, oldest first, by `addr:<ip>`, `pair:<name>@<ip>` and `user:<name>`. */
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly maxFailures = LOGIN_MAX_FAILURES, private readonly windowMs = LOGIN_WINDOW_MS) {}

  /** Seconds until this username may try again from this address; 0 when it may now. */
  retryAfterSec(username: string, address: string, now = Date.now()): number {
    let waitMs = 0;
    for (const key of [`addr:${address}`, pairKey(username, address)]) {
      const times = this.recent(key, now);
      if (times.length >= this.maxFailures) waitMs = Math.max(waitMs, times[times.length - this.maxFailures] + this.windowMs - now);
    }
    return waitMs > 0 ? Math.ceil(waitMs / 1000) : 0;
  }

  /** How long an attempt on this username waits first, whatever its address: a slowdown, never a lockout. */
  backoffMs(username: string, now = Date.now()): number {
    const over = this.recent(userKey(username), now).length - this.maxFailures;
    return over < 0 ? 0 : Math.min(LOGIN_BACKOFF_BASE_MS * 2 ** over, LOGIN_BACKOFF_MAX_MS);
  }

  recordFailure(username: string, address: string, now = Date.now()): void {
    for (const key of [`addr:${address}`, pairKey(username, address), userKey(username)]) {
      const times = this.recent(key, now);
      times.push(now);
      this.failures.delete(key); // re-insert: the map's order is the order of last use
      // Enough to reach the longest backoff; older ones change nothing.
      this.failures.set(key, times.slice(-(this.maxFailures + 8)));
    }
    while (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value!);
  }

  /** A successful login clears the username's counts (not the address's: one good password does not vouch for the rest). */
  recordSuccess(username: string, address: string): void {
    this.failures.delete(userKey(username));
    this.failures.delete(pairKey(username, address));
  }

  reset(): void {
    this.failures.clear();
  }

  private recent(key: string, now: number): number[] {
    const times = (this.failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (times.length === 0) this.failures.delete(key);
    return times;
  }
}

const userKey = (username: string) => `user:${username.toLowerCase()}`;
const pairKey = (username: string, address: string) => `pair:${username.toLowerCase()}@${address}`;
