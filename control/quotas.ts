// Per-account limits, enforced where work is admitted. Running tasks and live sessions are counted in
// Temporal visibility (the workflows are the truth; nothing is counted twice by hand). Visibility lags
// a write by up to a second or so, so this process also remembers what it started in the last few
// seconds: within one API process the limit is exact, across several a burst can pass it by what the
// others started within that lag.
import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { effectiveLimits, quotaExceeded, LIMIT_NAMES, type AccountLimits, type LimitName, type LimitOverrides } from '../contract/limits.js';
import { SA_ACCOUNT } from '../contract/search-attributes.js';
import type { AccountStore } from '../db/accounts.js';
import { quote } from './visibility.js';

/** How long a start of this process is counted even if visibility does not show it yet. */
const RECENT_MS = 3_000;
/** How long a count far from the limit is trusted before visibility is asked again. */
const COUNT_TTL_MS = 1_000;
/** How long an account's limits are cached (an admin's change in this process applies at once). */
const LIMITS_TTL_MS = 5_000;

/** The key Temporal balances queued work by: the account (fairness keys are at most 64 bytes). */
export function fairnessKey(accountId: string): string {
  return accountId.length <= 64 ? accountId : createHash('sha256').update(accountId).digest('hex');
}

/** The workflow ids under `key` stamped within RECENT_MS, older ones dropped. */
function lastSeconds(byKey: Map<string, Map<string, number>>, key: string): Map<string, number> {
  let m = byKey.get(key);
  if (!m) byKey.set(key, (m = new Map()));
  const cutoff = Date.now() - RECENT_MS;
  for (const [id, t] of m) if (t < cutoff) m.delete(id);
  return m;
}

type Kind = 'taskWorkflow' | 'sessionWorkflow';
const LIMIT_OF: Record<Kind, LimitName> = { taskWorkflow: 'max_running_tasks', sessionWorkflow: 'max_sessions' };

export class Quotas {
  /** Workflows this process started in the last seconds, which visibility may not list yet. */
  private readonly recent = new Map<string, Map<string, number>>();
  /** Workflows this process saw end in the last seconds, which visibility may still list as running. */
  private readonly seenEnded = new Map<string, Map<string, number>>();
  private readonly counted = new Map<string, { count: number; at: number }>();
  private readonly asking = new Map<string, Promise<Set<string>>>();
  private readonly limitsCache = new Map<string, { limits: AccountLimits; overrides: LimitOverrides; at: number }>();

  constructor(
    private readonly client: Client,
    private readonly accounts: AccountStore,
    private readonly defaults: AccountLimits,
  ) {}

  async limitsOf(accountId: string): Promise<{ limits: AccountLimits; overrides: LimitOverrides }> {
    const hit = this.limitsCache.get(accountId);
    if (hit && Date.now() - hit.at < LIMITS_TTL_MS) return hit;
    const overrides = (await this.accounts.limitOverrides(accountId)) ?? {};
    const entry = { limits: effectiveLimits(this.defaults, overrides), overrides, at: Date.now() };
    this.limitsCache.set(accountId, entry);
    return entry;
  }

  /** Stores an admin's overrides (merged over the account's current ones); false when no such account. */
  async setOverrides(accountId: string, changes: LimitOverrides): Promise<boolean> {
    const current = await this.accounts.limitOverrides(accountId);
    if (current === undefined) return false;
    const next: LimitOverrides = { ...current };
    for (const name of LIMIT_NAMES) {
      if (changes[name] === null) delete next[name];
      else if (changes[name] !== undefined) next[name] = changes[name];
    }
    await this.accounts.setLimitOverrides(accountId, next);
    this.limitsCache.delete(accountId);
    return true;
  }

  /** Whether one more task may start; `workflowId` already running (a retried request_id) always may. */
  admitTask(accountId: string, workflowId: string, exists: () => Promise<boolean>): Promise<void> {
    return this.admit('taskWorkflow', accountId, workflowId, exists);
  }

  admitSession(accountId: string, workflowId: string, exists: () => Promise<boolean>): Promise<void> {
    return this.admit('sessionWorkflow', accountId, workflowId, exists);
  }

  /** This process saw the task end: it no longer counts, even while visibility still lists it running. */
  taskEnded(accountId: string, workflowId: string): void {
    this.ended('taskWorkflow', accountId, workflowId);
  }

  sessionEnded(accountId: string, workflowId: string): void {
    this.ended('sessionWorkflow', accountId, workflowId);
  }

  private ended(kind: Kind, accountId: string, workflowId: string): void {
    const key = `${kind}\0${accountId}`;
    this.recent.get(key)?.delete(workflowId);
    lastSeconds(this.seenEnded, key).set(workflowId, Date.now());
  }

  async admitToken(accountId: string): Promise<void> {
    const { limits } = await this.limitsOf(accountId);
    if ((await this.accounts.countTokens(accountId)) >= limits.max_tokens) throw quotaExceeded('max_tokens', limits.max_tokens);
  }

  async admitTemplate(accountId: string): Promise<void> {
    const { limits } = await this.limitsOf(accountId);
    if ((await this.accounts.countTemplates(accountId)) >= limits.max_templates) throw quotaExceeded('max_templates', limits.max_templates);
  }

  /** The bounds a new named snapshot of the account must stay within (the store checks them as it saves). */
  async snapshotQuota(accountId: string): Promise<{ maxSnapshots: number; maxMb: number }> {
    const { limits } = await this.limitsOf(accountId);
    return { maxSnapshots: limits.max_snapshots, maxMb: limits.max_snapshot_mb };
  }

  /** What the account holds now, for its own view of its limits. */
  async usage(accountId: string): Promise<AccountLimits> {
    const [tasks, sessions, tokens, templates, snapshots] = await Promise.all([
      this.running('taskWorkflow', accountId, 100_000),
      this.running('sessionWorkflow', accountId, 100_000),
      this.accounts.countTokens(accountId),
      this.accounts.countTemplates(accountId),
      this.accounts.snapshotsHeld(accountId),
    ]);
    return {
      max_running_tasks: tasks.size, max_sessions: sessions.size, max_tokens: tokens, max_templates: templates,
      max_snapshots: snapshots.count, max_snapshot_mb: Math.ceil(snapshots.bytes / (1024 * 1024)),
    };
  }

  private async admit(kind: Kind, accountId: string, workflowId: string, exists: () => Promise<boolean>): Promise<void> {
    const name = LIMIT_OF[kind];
    const { limits } = await this.limitsOf(accountId);
    const max = limits[name];
    const key = `${kind}\0${accountId}`;
    const recent = lastSeconds(this.recent, key);
    // Far from the limit, a count from the last second plus this process's starts since is enough.
    const known = this.counted.get(key);
    if (known && Date.now() - known.at < COUNT_TTL_MS) {
      const since = [...recent.values()].filter((t) => t >= known.at).length;
      if (known.count + since + 1 <= max) {
        recent.set(workflowId, Date.now());
        return;
      }
    }
    // Near it, ask visibility now, and count what this process just started besides (less what it saw end).
    const ended = lastSeconds(this.seenEnded, key);
    const running = new Set(await this.runningNow(key, () => this.running(kind, accountId, max + recent.size + ended.size + 1)));
    for (const id of ended.keys()) running.delete(id);
    this.counted.set(key, { count: running.size, at: Date.now() });
    if (!running.has(workflowId)) {
      const held = new Set([...running, ...recent.keys()]);
      held.delete(workflowId);
      if (held.size >= max && !(await exists())) throw quotaExceeded(name, max);
    }
    recent.set(workflowId, Date.now());
  }

  /**
   * One visibility count at a time per account and kind: admissions arriving while one is asked share its
   * answer (each then adds what this process started since), instead of each asking again.
   */
  private runningNow(key: string, ask: () => Promise<Set<string>>): Promise<Set<string>> {
    let pending = this.asking.get(key);
    if (!pending) {
      pending = ask().finally(() => this.asking.delete(key));
      this.asking.set(key, pending);
    }
    return pending;
  }

  /** Ids of the account's running workflows of a kind, at most `upTo` of them. */
  private async running(kind: Kind, accountId: string, upTo: number): Promise<Set<string>> {
    const ids = new Set<string>();
    const query = `WorkflowType = '${kind}' AND ${SA_ACCOUNT.name} = ${quote(accountId)} AND ExecutionStatus = 'Running'`;
    for await (const w of this.client.workflow.list({ query, pageSize: Math.min(1000, upTo) })) {
      ids.add(w.workflowId);
      if (ids.size >= upTo) break;
    }
    return ids;
  }
}
