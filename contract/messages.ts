// The messages workflows and activities exchange: workflow inputs, activity requests and results.
// Types only, so workflow code may import them freely.
import type { Capability } from './capabilities.js';

export interface PythonExecInput { code: string; timeout_ms: number }
export interface PythonExecOutput {
  output: string;
  stderr: string;
  exit_code: number;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
}
export interface EchoInput { message: string; timeout_ms?: number }
export interface EchoOutput { message: string }

export interface TaskWorkflowInput {
  capability: Capability;
  input: unknown;
  timeoutMs: number;
  /** How long an activity may go silent before Temporal gives it to another worker. */
  heartbeatTimeoutMs: number;
  /** How long the task may wait for a free worker before it fails with no_capacity. */
  queueTimeoutMs: number;
  /** Set by the API when it already knows no online worker serves the runtime. */
  unavailable?: 'no_worker';
}

// ---- terminal sessions --------------------------------------------------------------------------

export interface TerminalExecInput {
  command: string;
  session_id?: string;
  create_if_missing?: boolean;
  lease_ttl_sec?: number;
  timeout_ms: number;
}

export interface TerminalExecOutput {
  session_id: string;
  created: boolean;
  stdout: string;
  stderr: string;
  exit_code: number;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  lease_expires_unix_ms: number;
}

/** Lease rules, from the API's config, fixed for a session's life. */
export interface LeasePolicy { defaultSec: number; minSec: number; maxSec: number; maxLifetimeMs: number }

export interface SessionWorkflowInput {
  sessionId: string;
  accountId: string;
  lease: LeasePolicy;
  /** How long a step may wait for the session's host before the session counts as lost. */
  hostTimeoutMs: number;
  heartbeatTimeoutMs: number;
  /** Continue-as-new after this many commands, well before Temporal's per-run update and history limits. */
  commandsPerRun: number;
  /** The lease the creating call asked for; later calls extend from there. */
  initialLeaseSec?: number;
  /**
   * The creating call's command: the host that takes the session runs it right away, in the same
   * activity, so a new session's first result costs one activity, not two.
   */
  firstCommand?: { id: string; command: string; timeoutMs: number };
  /** Carried over by continue-as-new. */
  carried?: SessionState;
}

export interface SessionState {
  hostQueue: string;
  hostId: string;
  containerId: string;
  createdAtMs: number;
  leaseExpiresAtMs: number;
  commands: number;
}

export type SessionEndReason = 'closed' | 'lease_expired' | 'max_lifetime' | 'session_lost' | 'start_failed';

export interface SessionSummary {
  session_id: string;
  status: 'starting' | 'active' | 'busy' | 'ended';
  host: string | null;
  created_at: string | null;
  lease_expires_unix_ms: number | null;
  commands: number;
  ended_reason?: SessionEndReason;
}

export interface SessionExecRequest {
  command: string;
  timeout_ms: number;
  lease_ttl_sec?: number;
  created: boolean;
  /** Matches SessionWorkflowInput.firstCommand.id when this command already ran with the session's start. */
  first_id?: string;
}

export interface HostExecResult {
  stdout: string;
  stderr: string;
  exit_code: number;
  stdout_truncated: boolean;
  stderr_truncated: boolean;
  timed_out: boolean;
}

export type FileOp =
  | { op: 'read'; path: string; maxBytes: number; withMime?: boolean }
  | { op: 'write'; path: string; contentBase64: string }
  | { op: 'list'; path: string }
  | { op: 'delete'; path: string };

export interface FileEntry { name: string; type: 'file' | 'dir' | 'symlink' | 'other'; size: number; modified: string }

export type FileResult =
  | { op: 'read'; path: string; size: number; contentBase64: string; mime?: string }
  | { op: 'write'; path: string; size: number }
  | { op: 'list'; path: string; entries: FileEntry[] }
  | { op: 'delete'; path: string; deleted: boolean };
