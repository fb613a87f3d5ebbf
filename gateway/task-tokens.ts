// Which host each activity task token was handed to. Temporal accepts a heartbeat or a result from anyone
// who presents an attempt's task token; the gateway sees every poll answer go back to its host, so it
// remembers who got which token and lets only that host report on it (see docs/security/host-gateway.md).
import { createHash } from 'node:crypto';

interface Binding {
  workerId: string;
  /** After this the attempt has timed out at Temporal: the token is worth nothing to anyone. */
  expiresAt: number;
}

/**
 * Token (its SHA-256) → host, bounded in time and in size. An entry goes when its host reports the
 * attempt's end, when the attempt's timeouts have passed, or, when `maxTokens` are held, to make room:
 * then the host holding the most tokens loses its oldest one first, so one host that hoards tasks never
 * pushes out the tokens of hosts that hold fewer.
 */
export class TaskTokenBindings {
  private readonly byKey = new Map<string, Binding>();
  /** Each host's keys, oldest first (a Set keeps insertion order). */
  private readonly byHost = new Map<string, Set<string>>();

  constructor(readonly maxTokens: number, private readonly now: () => number = Date.now) {
    if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new Error('maxTokens must be a positive integer');
  }

  get size(): number {
    return this.byKey.size;
  }

  /** The token of a poll answer goes to `workerId` for `ttlMs`. */
  bind(token: Uint8Array, workerId: string, ttlMs: number): void {
    const key = keyOf(token);
    this.forgetKey(key);
    if (this.byKey.size >= this.maxTokens) this.sweep();
    while (this.byKey.size >= this.maxTokens) this.evictOne();
    this.byKey.set(key, { workerId, expiresAt: this.now() + ttlMs });
    let keys = this.byHost.get(workerId);
    if (!keys) this.byHost.set(workerId, (keys = new Set()));
    keys.add(key);
  }

  /** The host the token was handed to, while its attempt can still report; undefined when unknown. */
  holderOf(token: Uint8Array): string | undefined {
    const key = keyOf(token);
    const binding = this.byKey.get(key);
    if (!binding) return undefined;
    if (binding.expiresAt <= this.now()) {
      this.forgetKey(key);
      return undefined;
    }
    return binding.workerId;
  }

  /** The attempt ended (its result was taken, or Temporal no longer knows it). */
  release(token: Uint8Array): void {
    this.forgetKey(keyOf(token));
  }

  /** Drops every binding whose attempt has timed out. */
  sweep(): void {
    const now = this.now();
    for (const [key, binding] of this.byKey) if (binding.expiresAt <= now) this.forgetKey(key);
  }

  private evictOne(): void {
    let hoarder: Set<string> | undefined;
    for (const keys of this.byHost.values()) if (!hoarder || keys.size > hoarder.size) hoarder = keys;
    const oldest = hoarder?.values().next().value;
    if (oldest === undefined) throw new Error('task token bindings: nothing to evict');
    this.forgetKey(oldest);
  }

  private forgetKey(key: string): void {
    const binding = this.byKey.get(key);
    if (!binding) return;
    this.byKey.delete(key);
    const keys = this.byHost.get(binding.workerId);
    keys?.delete(key);
    if (keys?.size === 0) this.byHost.delete(binding.workerId);
  }
}

/** A token is a bearer capability: only its hash is kept, and every entry is the same small size. */
function keyOf(token: Uint8Array): string {
  return createHash('sha256').update(token).digest('base64');
}

/** Seconds and nanos of a protobuf Duration (seconds may be a Long). */
export interface DurationLike { seconds?: unknown; nanos?: number | null }
export interface TimestampLike { seconds?: unknown; nanos?: number | null }

export function durationMs(d: DurationLike | null | undefined): number | undefined {
  if (!d) return undefined;
  const ms = Number(d.seconds ?? 0) * 1000 + Math.floor((d.nanos ?? 0) / 1e6);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/**
 * How long an attempt's token can matter: its start-to-close timeout, cut short by what is left of its
 * schedule-to-close; Temporal refuses a report after either. Hosts' and Temporal's clocks may differ a
 * little, and a report may wait in the gateway: `graceMs` on top. With neither timeout (Temporal always
 * sets start-to-close), `fallbackMs`.
 */
export function attemptTtlMs(
  answer: { startToCloseTimeout?: DurationLike | null; scheduleToCloseTimeout?: DurationLike | null; scheduledTime?: TimestampLike | null },
  now: number, graceMs: number, fallbackMs: number,
): number {
  const limits: number[] = [];
  const startToClose = durationMs(answer.startToCloseTimeout);
  if (startToClose !== undefined) limits.push(startToClose);
  const scheduleToClose = durationMs(answer.scheduleToCloseTimeout);
  const scheduledAt = durationMs(answer.scheduledTime);
  if (scheduleToClose !== undefined) limits.push(scheduledAt !== undefined ? Math.max(0, scheduledAt + scheduleToClose - now) : scheduleToClose);
  return (limits.length > 0 ? Math.min(...limits) : fallbackMs) + graceMs;
}
