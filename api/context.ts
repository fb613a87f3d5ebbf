// What every handler is given: the control plane's stores and services, and the login limiter.
import type { ApiSettings } from '../config/index.js';
import type { LeaseBounds } from '../contract/schemas.js';
import type { Account } from '../db/accounts.js';
import type { ControlPlane } from '../control/plane.js';
import type { LoginLimiter } from './login-limiter.js';

export interface AppDeps extends ControlPlane {
  loginLimiter: LoginLimiter;
}

export interface AppState {
  account?: Account;
  /** The bearer token, kept only to hand to MCP handlers as their auth info; never logged. */
  token?: string;
  /** The runtime worker calling the registry, proven by its credential. */
  workerId?: string;
  /** The operation this request matched (its record in contract/operations.ts). */
  operation?: string;
}

/** The session lease bounds a request's lease_ttl_sec must fall within. */
export function leaseBounds(api: ApiSettings): LeaseBounds {
  return { minSec: api.session.leaseMinSec, maxSec: api.session.leaseMaxSec };
}
