// The messages workflows and activities exchange: workflow inputs, activity requests and results.
// Types only, so workflow code may import them freely. What also crosses the wire is the type of its
// schema in schemas.ts (a type-only import: the workflow bundle carries no zod).
import type { z } from 'zod';
import type { Capability } from './capabilities.js';
import type { TemplateRef } from './templates.js';
import type * as S from './schemas.js';

export type PythonExecInput = z.output<typeof S.PythonExecInput>;
export type PythonExecOutput = z.output<typeof S.PythonExecOutput>;
export type EchoInput = z.output<typeof S.EchoInput>;
export type EchoOutput = z.output<typeof S.EchoOutput>;
export type RunCodeInput = z.output<typeof S.RunCodeInput>;
export type RunCodeOutput = z.output<typeof S.RunCodeOutput>;
export type Language = S.Language;
export type ContextView = z.output<typeof S.ContextView>;

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
  /** The account template the work runs in (resolved and ready when the task started); absent: the runtime's own image. */
  template?: TemplateRef;
  /** The host's grant to post the work's output to its stream (the task's id), signed by the API at start. */
  outputGrant?: string;
}

// ---- terminal sessions --------------------------------------------------------------------------

export type TerminalExecInput = z.output<typeof S.TerminalExecInput>;

export type TerminalExecOutput = z.output<typeof S.TerminalExecOutput>;

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
  firstCommand?: {
    id: string;
    command: string;
    timeoutMs: number;
    streamId?: string;
    streamGrant?: string;
    /** With zero loss: the grant its host stores the command's effect under (the session's first container, generation 1), signed by the API. */
    durableGrant?: string;
  };
  /** Carried over by continue-as-new. */
  carried?: SessionState;
  /**
   * The answers of the session's latest keyed calls (a request_id's hash), carried over by continue-as-new:
   * Temporal dedupes an Update id only within one run, so a retry in a later run is answered from here.
   */
  answered?: KeptAnswer[];
  /** Least time between two checkpoints; absent or 0: no checkpoints (sessions started before there were any). */
  checkpointMs?: number;
  /** Idle this long, the session is checkpointed and its container removed; absent or 0: never. */
  pauseAfterMs?: number;
  /** The account template its containers are made from, on every host it moves to; absent: the terminal runtime's image. */
  template?: TemplateRef;
  /**
   * Sessions with checkpoint chains and container generations (docs/sessions/durability.md): a host silent
   * this long is gone; until then a step waits for it. Absent: a session started before chains.
   */
  hostGoneMs?: number;
  /** zero: each step's effect is stored before it answers; interval: checkpoints every checkpointMs at most. */
  durability?: 'zero' | 'interval';
  /**
   * The session starts from a chain copied to its id (docs/sessions/fork-and-snapshots.md): a fork of a
   * session, or a named snapshot. Its first container is restored from that chain, and the creating call's
   * command (if any) runs there in the same step. `checkpoint`: the copied chain's record.
   */
  restoreAtStart?: { source: SessionSource; checkpoint?: CheckpointRecord };
}

/** Where a session started from a copied chain came from. */
export type SessionSource = { session: string } | { snapshot: string };

/** What a checkpoint step did: saved a new snapshot, found the workspace as last saved, or found it over the cap. */
export type CheckpointResult =
  | { outcome: 'saved'; digest: string; raw_bytes: number; bytes: number; /** Of a chain: a delta, or a full part (its new base); and its number. */ kind?: 'full' | 'delta'; seq?: number }
  | { outcome: 'unchanged'; digest?: string }
  | { outcome: 'too_large' }
  /** A durable step's effect could not be stored (the store did not answer in time): the session checkpoints again later. */
  | { outcome: 'failed'; message: string };

/** A checkpoint unpacked into a session's new container; `refused`: the first members it left out, each with why. */
export interface RestoredCheckpoint {
  digest: string;
  raw_bytes: number;
  /** How many parts of the chain were unpacked. */
  parts?: number;
  refused?: string[];
  refused_count?: number;
  /** The interpreter contexts whose variables the workspace holds (by context id): those saved, and those that could not be. */
  contexts?: Record<string, { saved: string[]; unsaved: string[] }>;
}

/** The latest checkpoint of a session's workspace, as its workflow records it (the bytes are in the snapshot store). */
export interface CheckpointRecord {
  digest: string;
  raw_bytes: number;
  bytes: number;
  /** When the workspace was read (workflow time). */
  atMs: number;
  /** Deltas stored after the chain's last full part: a long chain is compacted while the session idles. */
  deltas?: number;
  /** Their compressed bytes; `bytes` is then the whole chain's. */
  deltaBytes?: number;
}

export interface SessionState {
  hostQueue: string;
  hostId: string;
  containerId: string;
  createdAtMs: number;
  leaseExpiresAtMs: number;
  commands: number;
  /** The session's interpreter contexts by id; their processes live in the container, started on first use. */
  contexts?: Record<string, {
    language: Language;
    createdAtMs: number;
    /** Its process went with a container the session left (restored): the next cell says so. */
    restarted?: boolean;
  }>;
  /** The latest checkpoint of /workspace, from which the session can be restored on another host. */
  checkpoint?: CheckpointRecord;
  /** The workspace changed (or may have) since that checkpoint. */
  dirty?: boolean;
  /** The workspace outgrew the checkpoint cap: the checkpoint is older than the workspace, so no pause. */
  checkpointStale?: boolean;
  /** The container was removed after a checkpoint: the next call restores the session on any host. */
  paused?: boolean;
  /** When the session last ran a step (for pausing). */
  lastUsedMs?: number;
  /** The generation of the session's container: 1 for its first, one more for each it moved to. */
  generation?: number;
  /** The highest generation handed out: a move that failed still fences off the container it left. */
  claimed?: number;
  /** The grant the container's host stores checkpoint parts under (bound to host and generation), while valid. */
  storeGrant?: { grant: string; expiresAtMs: number };
  /** The session left its host (lost) but no new container took it yet: the next step moves it first. */
  homeless?: boolean;
}

/** A cell sent to a session: its context is named, or the language's default one is used. */
export interface SessionCodeRequest {
  code: string;
  /** Absent: the named context's language, else python. */
  language?: Language;
  context_id?: string;
  timeout_ms: number;
  /** Where the host forwards the output while it runs. */
  stream_id?: string;
  /** The host's grant to post to that stream (control/host-grants.ts). */
  stream_grant?: string;
  /** The hash of the caller's request_id (also the Update's id): a retry in a later run gets this call's answer. */
  request_hash?: string;
}

/**
 * A keyed call's answer, as a session keeps it past continue-as-new: its result or its failure, or only
 * that it ran, when the answer was too large to carry (a retry is then refused, never run again).
 */
export interface KeptAnswer {
  key: string;
  /** What kind of call it was: a retry of another kind under the same key is refused. */
  kind: 'exec' | 'code';
  answer?: { result: unknown } | { failure: { type: string; message: string; details?: unknown[] } };
  /** The answer's size as carried (UTF-8 bytes of its JSON). */
  bytes: number;
}

/** What a host answers for one cell (before the session adds its ids); `context_state`: what a restarted context loaded back. */
export type CellResult = Omit<RunCodeOutput, 'language' | 'session_id' | 'context_id'> & { context_state?: { variables: string[]; not_restored: string[] } };

export type SessionEndReason = NonNullable<SessionSummary['ended_reason']>;

export type SessionSummary = z.output<typeof S.SessionSummarySchema>;

export interface SessionExecRequest {
  command: string;
  timeout_ms: number;
  lease_ttl_sec?: number;
  created: boolean;
  /** Matches SessionWorkflowInput.firstCommand.id when this command already ran with the session's start. */
  first_id?: string;
  /** Where the host forwards the output while it runs (a task's id, or one the API made for a stream). */
  stream_id?: string;
  /** The host's grant to post to that stream (control/host-grants.ts). */
  stream_grant?: string;
  /** The template a create_if_missing call asked for: a live session made from another one refuses it. */
  template?: string;
  /** The named snapshot a creating call starts the session from: a live session not started from it refuses it. */
  from_snapshot?: string;
  /** The session a creating call forks: a live session not forked from it refuses it. */
  fork_from?: string;
  /** The hash of the caller's request_id (also the Update's id): a retry in a later run gets this call's answer. */
  request_hash?: string;
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
  | { op: 'delete'; path: string }
  // File tools (docs/workbench/file-tools.md). `path` is the source of a move or a copy.
  | { op: 'glob'; path: string; pattern: string; limit: number }
  | { op: 'grep'; path: string; pattern: string; glob?: string; ignoreCase?: boolean; limit: number }
  | { op: 'edit'; path: string; oldText: string; newText: string; replaceAll?: boolean }
  | { op: 'move'; path: string; to: string; overwrite?: boolean }
  | { op: 'copy'; path: string; to: string; recursive?: boolean; overwrite?: boolean }
  | { op: 'mkdir'; path: string; parents?: boolean };

/** One line grep found: the file (absolute, in the container), its 1-based line number and the line (cut when long). */
export interface GrepMatch { path: string; line: number; text: string }

export type FileEntry = z.output<typeof S.FileEntrySchema>;

export type FileResult =
  | { op: 'read'; path: string; size: number; contentBase64: string; mime?: string }
  | { op: 'write'; path: string; size: number }
  | { op: 'list'; path: string; entries: FileEntry[] }
  | { op: 'delete'; path: string; deleted: boolean }
  | { op: 'glob'; path: string; matches: string[]; truncated: boolean }
  | { op: 'grep'; path: string; matches: GrepMatch[]; truncated: boolean }
  | { op: 'edit'; path: string; replacements: number; size: number }
  | { op: 'move'; path: string; to: string }
  | { op: 'copy'; path: string; to: string }
  | { op: 'mkdir'; path: string; created: boolean };
