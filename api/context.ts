// What every handler is given: the control plane's stores and services, and the login limiter.
import type { ApiSettings } from '../config/index.js';
import type { Logger } from '../config/log.js';
import type { LeaseBounds } from '../contract/schemas.js';
import type { Account } from '../db/accounts.js';
import type { ControlPlane } from '../control/plane.js';
import type { LoginLimiter } from './login-limiter.js';

export interface AppDeps extends ControlPlane {
  loginLimiter: LoginLimiter;
  /** The session's browser for the browser tools (a loopback CDP endpoint bridged through the tunnel). */
  workbench: { cdpEndpoint(accountId: string, sessionId: string): Promise<{ wsUrl: string; headers: Record<string, string> }> };
}

export interface AppState {
  account?: Account;
  /** The bearer token, kept only to hand to MCP handlers as their auth info; never logged. */
  token?: string;
  /** The runtime worker calling the registry, proven by its credential. */
  workerId?: string;
  /** The operation this request matched (its record in contract/operations.ts). */
  operation?: string;
  /** The request's id (the client's X-Request-Id when it sent a usable one), echoed in the answer and on its log lines. */
  requestId?: string;
  /** This request's logger: its lines carry the request id. */
  log?: Logger;
  /** The task (workflow) this request started, for its log line. */
  taskId?: string;
  /** The error code this request was answered with, for its log line. */
  errorCode?: string;
  /** A failure the API did not expect (answered 500): logged with its stack. */
  failure?: unknown;
}

/** The session lease bounds a request's lease_ttl_sec must fall within. */
export function leaseBounds(api: ApiSettings): LeaseBounds {
  return { minSec: api.session.leaseMinSec, maxSec: api.session.leaseMaxSec };
}
