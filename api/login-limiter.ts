// Slows down password guessing on POST /console/login: at most MAX_FAILURES failed logins per username
// and per client address within WINDOW_MS; past that the login answers 429 with Retry-After.
// State is a map in this API process: a restart forgets it, and each API process counts on its own.
// That is enough against a guessing script; it is not an account lockout policy.

export const LOGIN_MAX_FAILURES = 10;
export const LOGIN_WINDOW_MS = 5 * 60_000;
/** Keys kept at most; past that the oldest are dropped, so a flood of names cannot grow memory. */
const MAX_KEYS = 10_000;

export class LoginLimiter {
  /** Failure times, oldest first, by `user:<name>` and `addr:<ip>`. */
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly maxFailures = LOGIN_MAX_FAILURES, private readonly windowMs = LOGIN_WINDOW_MS) {}

  /** Seconds until this username and address may try again; 0 when they may now. */
  retryAfterSec(username: string, address: string, now = Date.now()): number {
    let waitMs = 0;
    for (const key of keys(username, address)) {
      const times = this.recent(key, now);
      if (times.length >= this.maxFailures) waitMs = Math.max(waitMs, times[times.length - this.maxFailures] + this.windowMs - now);
    }
    return waitMs > 0 ? Math.ceil(waitMs / 1000) : 0;
  }

  recordFailure(username: string, address: string, now = Date.now()): void {
    for (const key of keys(username, address)) {
      const times = this.recent(key, now);
      times.push(now);
      this.failures.delete(key); // re-insert: the map's order is the order of last use
      this.failures.set(key, times.slice(-this.maxFailures));
    }
    while (this.failures.size > MAX_KEYS) this.failures.delete(this.failures.keys().next().value!);
  }

  /** A successful login clears the username's count (not the address's: one good password does not vouch for the rest). */
  recordSuccess(username: string): void {
    this.failures.delete(`user:${username.toLowerCase()}`);
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

function keys(username: string, address: string): string[] {
  return [`user:${username.toLowerCase()}`, `addr:${address}`];
}
