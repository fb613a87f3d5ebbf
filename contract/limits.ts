// Per-account limits: what one account may hold at once on a shared platform. Each has a setting for
// its default and may be overridden per account by an admin. Pure: no I/O.
import { DuraboxError } from './errors.js';

export const LIMIT_NAMES = ['max_running_tasks', 'max_sessions', 'max_tokens', 'max_templates', 'max_snapshots', 'max_snapshot_mb'] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];
export type AccountLimits = Record<LimitName, number>;
/** An admin's overrides for one account; a missing or null entry means the setting's default. */
export type LimitOverrides = Partial<Record<LimitName, number | null>>;

/** The setting that holds each limit's default, and what it counts. */
export const LIMITS: Record<LimitName, { setting: string; counts: string }> = {
  max_running_tasks: { setting: 'DURABOX_ACCOUNT_MAX_RUNNING_TASKS', counts: 'tasks queued or running at once (each sync wait is one)' },
  max_sessions: { setting: 'DURABOX_ACCOUNT_MAX_SESSIONS', counts: 'live terminal sessions' },
  max_tokens: { setting: 'DURABOX_ACCOUNT_MAX_TOKENS', counts: 'access tokens' },
  max_templates: { setting: 'DURABOX_ACCOUNT_MAX_TEMPLATES', counts: 'templates of its own' },
  max_snapshots: { setting: 'DURABOX_ACCOUNT_MAX_SNAPSHOTS', counts: 'named snapshots' },
  max_snapshot_mb: { setting: 'DURABOX_ACCOUNT_MAX_SNAPSHOT_MB', counts: 'MiB its named snapshots take in the snapshot store, compressed' },
};

/** The limits an account works under: its overrides over the defaults. */
export function effectiveLimits(defaults: AccountLimits, overrides: LimitOverrides | null | undefined): AccountLimits {
  const out = { ...defaults };
  for (const name of LIMIT_NAMES) {
    const v = overrides?.[name];
    if (typeof v === 'number') out[name] = v;
  }
  return out;
}

/** The refusal when a limit is reached: 429 `quota_exceeded`, naming the limit, its value and where it is set. */
export function quotaExceeded(name: LimitName, max: number): DuraboxError {
  return new DuraboxError(
    'quota_exceeded',
    `account limit reached: ${name} is ${max} (${LIMITS[name].counts}; default from ${LIMITS[name].setting}, an admin may change it per account)`,
    { code: 'quota_exceeded', limit: name, max },
  );
}
